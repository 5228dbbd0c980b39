// Reads CPU time and memory of other processes from /proc (Linux): how the benchmark charges
// CPU per request to the runtime (workerd), the mock provider and the load generator.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time of a whole process in nanoseconds: the sum of every thread's run time from
 * /proc/<pid>/task/<tid>/schedstat (ns resolution), falling back to utime+stime (10 ms ticks).
 * Threads that exit between two readings take their time with them; workerd's threads are long-lived.
 */
export function cpuNs(pid) {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {}
    }
    if (total > 0) return total;
  } catch {}
  return cpuNsFromStat(pid);
}

function cpuNsFromStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[11] and fields[12] are utime and stime (the 14th and 15th fields of the whole line).
    return ((Number(fields[11]) + Number(fields[12])) * 1e9) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** VmRSS and VmHWM (peak RSS) in KiB; NaN when the process is gone. */
export function memoryKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rssKb: field("VmRSS"), peakKb: field("VmHWM") };
  } catch {
    return { rssKb: NaN, peakKb: NaN };
  }
}

/** Resets the peak-RSS watermark (writing 5 to clear_refs), so VmHWM then covers only what follows. */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** A CPU meter over several named processes; `self` is this process (process.cpuUsage, µs resolution). */
export function cpuMeter(pids) {
  const read = () => {
    const own = process.cpuUsage();
    const out = { self: (own.user + own.system) * 1e3 };
    for (const [name, pid] of Object.entries(pids)) if (pid) out[name] = cpuNs(pid);
    return out;
  };
  const start = read();
  return {
    /** Nanoseconds of CPU each process used since the meter started. */
    stop() {
      const end = read();
      return Object.fromEntries(Object.keys(end).map((k) => [k, end[k] - start[k]]));
    },
  };
}
