// The local IdP's own people (development and tests only). Each has a password typed
// on the IdP's sign-in page; `emailVerified: false` is the case the claims mapper must
// not trust (kratos-config/oidc-claims.jsonnet drops such an address).
export interface IdpUser {
  sub: string;
  email: string;
  emailVerified: boolean;
  givenName: string;
  familyName: string;
  password: string;
}

/** One password for all: these accounts exist only on a laptop or in a test run. */
export const IDP_PASSWORD = "idp-password";

export const IDP_USERS: readonly IdpUser[] = [
  { sub: "u-grace", email: "grace@idp.example", emailVerified: true, givenName: "Grace", familyName: "Hopper" },
  { sub: "u-alan", email: "alan@idp.example", emailVerified: true, givenName: "Alan", familyName: "Turing" },
  { sub: "u-linus", email: "linus@idp.example", emailVerified: true, givenName: "Linus", familyName: "Pauling" },
  { sub: "u-eve", email: "eve@idp.example", emailVerified: false, givenName: "Eve", familyName: "Unverified" },
].map((u) => ({ ...u, password: IDP_PASSWORD }));

export function findUser(email: string): IdpUser | undefined {
  const e = email.trim().toLowerCase();
  return IDP_USERS.find((u) => u.email === e);
}
