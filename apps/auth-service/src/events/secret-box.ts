// Webhook subscriptions' signing secrets, encrypted at rest: AES-256-GCM (@gatehouse/tokens'
// sealString) under SIGNING_KEY_KEK, bound to the subscription's id, stored with the
// KEK's id (the first 16 hex characters of its SHA-256) so that after a KEK rotation a
// secret sealed under SIGNING_KEY_KEK_PREVIOUS still opens. A row without a key id was
// written before secrets were encrypted and is read as it is.
import { createHash } from "node:crypto";
import { openString, sealString } from "@gatehouse/tokens";

export const kekId = (kek: Uint8Array): string => createHash("sha256").update(kek).digest("hex").slice(0, 16);

export class SecretBox {
  readonly #current: Uint8Array;
  readonly #byId: Map<string, Uint8Array>;

  constructor(current: Uint8Array, previous: readonly Uint8Array[] = []) {
    this.#current = current;
    this.#byId = new Map([...previous, current].map((k) => [kekId(k), k]));
  }

  /** The id of the key new secrets are sealed under (SIGNING_KEY_KEK's). */
  get currentKid(): string {
    return kekId(this.#current);
  }

  async seal(secret: string, subscriptionId: string): Promise<{ secret: string; kid: string }> {
    return { secret: await sealString(secret, this.#current, subscriptionId), kid: kekId(this.#current) };
  }

  /** The plaintext secret; throws when the key it was sealed under is not configured. */
  async open(stored: { secret: string; kid: string | null }, subscriptionId: string): Promise<string> {
    if (stored.kid === null) return stored.secret;
    const kek = this.#byId.get(stored.kid);
    if (kek === undefined)
      throw new Error(
        `the webhook secret's key ${stored.kid} is neither SIGNING_KEY_KEK nor in SIGNING_KEY_KEK_PREVIOUS`,
      );
    return openString(stored.secret, kek, subscriptionId);
  }
}
