import { describe, expect, it } from "vitest";
import { isDependencyFailure } from "../src/dependency.ts";

/** An error as pg or Node raise it: a message and a code. */
const withCode = (code: string, message = "boom") => Object.assign(new Error(message), { code });

describe("isDependencyFailure: the dependency is down, not the request bad", () => {
  it("knows Postgres restarting, shutting down, crashed, full, and unreachable", () => {
    for (const code of [
      "57P01",
      "57P02",
      "57P03",
      "08006",
      "08001",
      "53300",
      "ECONNREFUSED",
      "ECONNRESET",
      "ETIMEDOUT",
    ])
      expect(isDependencyFailure(withCode(code)), code).toBe(true);
    expect(isDependencyFailure(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isDependencyFailure(new Error("Client has encountered a connection error and is not queryable"))).toBe(true);
    expect(isDependencyFailure(Object.assign(new Error("x"), { name: "MaxRetriesPerRequestError" }))).toBe(true);
  });

  it("leaves the request's own errors and the unknown to be what they are", () => {
    for (const code of ["23505", "22P02", "42P01", "57014", "0800"])
      expect(isDependencyFailure(withCode(code)), code).toBe(false);
    expect(isDependencyFailure(new Error("something else"))).toBe(false);
    expect(isDependencyFailure("ECONNREFUSED")).toBe(false);
    expect(isDependencyFailure(undefined)).toBe(false);
  });
});
