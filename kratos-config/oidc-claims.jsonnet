// Claims mapper of every social sign-in provider (selfservice.methods.oidc.config
// .providers[].mapper_url): an ID token's claims → the identity's traits. The email is
// taken only when the provider says it verified it: an unverified address from an IdP
// is whatever someone typed there, and an email here is what links accounts, receives
// recovery codes and names a person to their organization. Without it Kratos asks for
// an address on its registration form (and verifies it by code, as for a password).
// A verified one is marked verified too, so the person is not asked again.
local claims = std.extVar('claims');
local verified = std.objectHas(claims, 'email') && std.objectHas(claims, 'email_verified') && claims.email_verified == true;
local name = {
  [if std.objectHas(claims, 'given_name') then 'first']: claims.given_name,
  [if std.objectHas(claims, 'family_name') then 'last']: claims.family_name,
};

{
  identity: {
    traits: {
      [if verified then 'email']: claims.email,
      [if std.length(name) > 0 then 'name']: name,
    },
    [if verified then 'verified_addresses']: [{ via: 'email', value: claims.email }],
  },
}
