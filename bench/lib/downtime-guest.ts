/**
 * Runs inside the bench's test host (with the package's Deno), for part 5:
 *
 *   proxy <port> <upstream port> <bytes per second>
 *     a TCP proxy on 127.0.0.1 whose downstream (registry → client) is
 *     throttled to one shared rate: a "slow link" to the local registry.
 *   wait <url>
 *     returns once `url` answers 200 (at most 60 s).
 *   poll <url> <out file>
 *     asks `url` every 20 ms until SIGTERM, then writes the longest time
 *     between two successful answers (the downtime seen from outside) as JSON.
 *
 * @module
 */

async function proxy(port: number, upstream: number, rate: number): Promise<void> {
  // One bucket for all connections: Podman fetches layers in parallel.
  let next = performance.now();
  const pace = async (bytes: number) => {
    next = Math.max(next, performance.now()) + (bytes / rate) * 1000;
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };
  for await (const client of Deno.listen({ hostname: "127.0.0.1", port })) {
    (async () => {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: upstream });
      const up = client.readable.pipeTo(server.writable).catch(() => {});
      const down = (async () => {
        const writer = client.writable.getWriter();
        try {
          for await (const chunk of server.readable) {
            for (let i = 0; i < chunk.length; i += 16384) {
              const part = chunk.subarray(i, i + 16384);
              await pace(part.length);
              await writer.write(part);
            }
          }
          await writer.close();
        } catch {
          // The client went away: nothing to deliver.
        }
      })();
      await Promise.all([up, down]);
    })().catch(() => {});
  }
}

async function poll(url: string, out: string): Promise<void> {
  let last: number | null = null;
  let longest = 0;
  let polls = 0;
  let failures = 0;
  let stop = false;
  Deno.addSignalListener("SIGTERM", () => stop = true);
  while (!stop) {
    const at = performance.now();
    polls++;
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.body?.cancel();
      if (r.ok) {
        if (last !== null) longest = Math.max(longest, at - last);
        last = at;
      } else failures++;
    } catch {
      failures++;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await Deno.writeTextFile(out, JSON.stringify({ longestGapMs: longest, polls, failures }));
}

async function waitFor(url: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.body?.cancel();
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within 60 s`);
}

if (import.meta.main) {
  const [mode, ...args] = Deno.args;
  if (mode === "proxy") await proxy(Number(args[0]), Number(args[1]), Number(args[2]));
  else if (mode === "poll") await poll(args[0], args[1]);
  else if (mode === "wait") await waitFor(args[0]);
  else throw new Error(`unknown mode ${mode}`);
}
