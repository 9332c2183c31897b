// Webhook secrets at rest (events/secret-box.ts): sealed under the KEK and bound to the
// subscription, opened by the key id they name, after a KEK rotation too.
import { describe, expect, it } from "vitest";
import { kekId, SecretBox } from "../src/events/secret-box.ts";

const kekA = new Uint8Array(32).fill(1);
const kekB = new Uint8Array(32).fill(2);
const SECRET = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMg==";

describe("SecretBox", () => {
  it("seals under the current KEK, bound to the subscription; never stores the secret as it is", async () => {
    const box = new SecretBox(kekA);
    const sealed = await box.seal(SECRET, "sub-1");
    expect(sealed.kid).toBe(kekId(kekA));
    expect(sealed.kid).toMatch(/^[0-9a-f]{16}$/);
    expect(sealed.secret).not.toContain("whsec_");
    expect(await box.open(sealed, "sub-1")).toBe(SECRET);
    // Moved to another row: refused (GCM's additional data is the subscription id).
    await expect(box.open(sealed, "sub-2")).rejects.toThrow(/cannot decrypt/);
  });

  it("after a KEK rotation the old key (SIGNING_KEY_KEK_PREVIOUS) still opens; an unknown key id is named", async () => {
    const sealed = await new SecretBox(kekA).seal(SECRET, "sub-1");
    expect(await new SecretBox(kekB, [kekA]).open(sealed, "sub-1")).toBe(SECRET);
    await expect(new SecretBox(kekB).open(sealed, "sub-1")).rejects.toThrow(/SIGNING_KEY_KEK_PREVIOUS/);
    const resealed = await new SecretBox(kekB, [kekA]).seal(SECRET, "sub-1");
    expect(resealed.kid).toBe(kekId(kekB));
  });

  it("a secret stored before encryption (no key id) is read as it is", async () => {
    expect(await new SecretBox(kekA).open({ secret: SECRET, kid: null }, "sub-1")).toBe(SECRET);
  });
});
