// Signals (course 002): a child installs handlers, as `signal.signal(signum, handler)`; the parent
// sends signals to its pid, as `os.kill(pid, sig)`; the child ignores SIGINT (`SIG_IGN`), sets an
// alarm for itself (`signal.alarm`) and waits for SIGTERM (`signal.pause()`). A child without a
// handler takes the default action (`SIG_DFL`): it dies, and its exit code is minus the signal's
// number, as Python's `exitcode` is.
//
//   deno task example:signals
//
// Signals go to OS processes, and a worker child shares its parent's (its `pid` is the parent's,
// and `Deno.kill` on it would signal the whole program): the children here are subprocesses
// whatever `--start-method` says, and the example says so.

import { Process, SimpleQueue } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

/** Waits for one `signal` (Python's `signal.pause()`, for that signal). */
function nextSignal(signal: Deno.Signal): Promise<void> {
  return new Promise((resolve) => {
    const handler = () => {
      Deno.removeSignalListener(signal, handler);
      resolve();
    };
    Deno.addSignalListener(signal, handler);
  });
}

/** Handles SIGUSR1, ignores SIGINT, rings an alarm, and ends on SIGTERM; says so in `log`. */
export async function handler(log: SimpleQueue<string>): Promise<void> {
  const ignore = () => {};
  Deno.addSignalListener("SIGINT", ignore); // SIG_IGN
  let usr1 = 0;
  const onUsr1 = () => {
    log.put(`SIGUSR1 handled (${++usr1})`);
    if (usr1 === 2) setTimeout(() => Deno.kill(Deno.pid, "SIGALRM"), 200); // signal.alarm
  };
  Deno.addSignalListener("SIGUSR1", onUsr1);
  const alarm = nextSignal("SIGALRM");
  const term = nextSignal("SIGTERM");
  await log.put("handlers installed");
  await alarm;
  await log.put("SIGALRM: the alarm rang");
  await term;
  await log.put("SIGTERM: cleaning up before exit");
  Deno.removeSignalListener("SIGINT", ignore);
  Deno.removeSignalListener("SIGUSR1", onUsr1);
}

/** Has no handlers: SIGUSR2 ends it (the default action). */
export function sleeper(log: SimpleQueue<string>): Promise<void> {
  log.put("sleeping, no handlers");
  return new Promise((resolve) => setTimeout(resolve, 30_000));
}

if (import.meta.main) {
  if (useStartMethodFromArgs() === "worker") {
    console.log(
      "(signals reach OS processes and a worker child shares its parent's: the children here " +
        "are subprocesses)",
    );
  }
  const log = new SimpleQueue<string>();
  const child = new Process({ target: handler, args: [log], startMethod: "subprocess" });
  child.start();
  const pid = child.pid!;
  const said = async () => console.log(`  child: ${await log.get({ timeout: 10_000 })}`);
  console.log(`parent: started ${child.name} (pid ${pid})`);
  await said();
  for (let i = 0; i < 2; i++) {
    console.log("parent: kill(pid, SIGUSR1)");
    Deno.kill(pid, "SIGUSR1");
    await said();
  }
  console.log("parent: kill(pid, SIGINT), which the child ignores");
  Deno.kill(pid, "SIGINT");
  await said(); // the alarm, set after the second SIGUSR1
  console.log(`parent: child alive after SIGINT: ${child.isAlive()}`);
  console.log("parent: kill(pid, SIGTERM)");
  Deno.kill(pid, "SIGTERM");
  await said();
  await child.join();
  console.log(`parent: ${child.name} exitCode ${child.exitCode} (it handled SIGTERM and returned)`);

  const plain = new Process({ target: sleeper, args: [log], startMethod: "subprocess" });
  plain.start();
  await said();
  console.log("parent: kill(pid, SIGUSR2), which it does not handle");
  Deno.kill(plain.pid!, "SIGUSR2");
  await plain.join();
  console.log(`parent: ${plain.name} exitCode ${plain.exitCode} (-12: ended by signal 12)`);
}
