// What the upstream reads of a request, counted once before admission: a type of its own so the request
// context can hold it without importing the reservation code that counts it.
/** What the upstream reads of a request, counted once (step count_tokens) before admission. */
export interface PromptCount {
  /** Upper bound of the input tokens any upstream counts for the request's text, images aside. */
  tokens: number;
  /** Bytes of each image part's URL (a data URL carries the image itself). */
  imageBytes: number[];
}
