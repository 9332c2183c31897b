// `pnpm stack logs` for people: the services' JSON lines (pino from Gatehouse,
// logrus from Kratos) pretty-printed by pino-pretty with local times; other lines
// (Postgres, Redis, the stack's own, `tail`'s file headers) pass through unchanged.
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { prettyFactory } from "pino-pretty";

/** logrus (Kratos) names its levels; pino-pretty knows pino's numbers. */
const LEVELS: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warning: 40,
  warn: 40,
  error: 50,
  fatal: 60,
  panic: 60,
};

export function prettyPrinter(colorize: boolean): (line: string) => string {
  const pretty = prettyFactory({
    colorize,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,audience,service_name,service_version",
    singleLine: false,
  });
  return (line) => {
    if (!line.startsWith("{")) return `${line}\n`;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return `${line}\n`;
    }
    if (typeof obj.level === "string") obj.level = LEVELS[obj.level] ?? 30;
    return pretty(obj);
  };
}

/** Copies `input` to `output` line by line, pretty-printed. */
export function prettyStream(input: Readable, output: Writable, colorize: boolean): Promise<void> {
  const print = prettyPrinter(colorize);
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  rl.on("line", (l) => output.write(print(l)));
  return new Promise((resolve) => rl.once("close", resolve));
}
