// Realistic Kratos whoami answers for memory benchmarks and tests: v4 UUIDs, one
// identity per session (the worst case for sharing), emails derived from common
// first/last names, password or password+TOTP or OIDC, 24 h sessions with
// millisecond timestamps. Deterministic (seeded), so runs are comparable.

const FIRST = [
  "Ada",
  "Alan",
  "Grace",
  "Linus",
  "Barbara",
  "Edsger",
  "Margaret",
  "Dennis",
  "Frances",
  "Ken",
  "Radia",
  "Donald",
  "Katherine",
  "John",
  "Hedy",
  "Tim",
  "Sophie",
  "Guido",
  "Anita",
  "Bjarne",
  "Maria",
  "James",
  "Mary",
  "Robert",
  "Patricia",
  "Michael",
  "Jennifer",
  "William",
  "Linda",
  "David",
  "Elizabeth",
  "Richard",
  "Susan",
  "Joseph",
  "Jessica",
  "Thomas",
  "Sarah",
  "Charles",
  "Karen",
  "Daniel",
  "Nancy",
  "Matthew",
  "Lisa",
  "Anthony",
  "Betty",
  "Mark",
  "Sandra",
  "Paul",
  "Ashley",
  "Steven",
  "Kimberly",
  "Andrew",
  "Emily",
  "Joshua",
  "Donna",
  "Kevin",
  "Michelle",
  "Brian",
  "Carol",
  "George",
  "Amanda",
  "Edward",
  "Melissa",
  "Ronald",
  "Deborah",
  "Timothy",
  "Stephanie",
  "Jason",
  "Rebecca",
  "Jeffrey",
  "Laura",
  "Ryan",
  "Sharon",
  "Jacob",
  "Cynthia",
  "Gary",
  "Kathleen",
  "Nicholas",
  "Amy",
  "Eric",
  "Angela",
  "Jonathan",
  "Shirley",
  "Stephen",
  "Anna",
  "Larry",
  "Brenda",
  "Justin",
  "Pamela",
  "Scott",
  "Emma",
  "Brandon",
  "Nicole",
  "Benjamin",
  "Helen",
  "Samuel",
  "Samantha",
  "Gregory",
  "Katherine",
  "Alexander",
];
const LAST = [
  "Lovelace",
  "Turing",
  "Hopper",
  "Torvalds",
  "Liskov",
  "Dijkstra",
  "Hamilton",
  "Ritchie",
  "Allen",
  "Thompson",
  "Perlman",
  "Knuth",
  "Johnson",
  "McCarthy",
  "Lamarr",
  "Berners-Lee",
  "Wilson",
  "van Rossum",
  "Borg",
  "Stroustrup",
  "Smith",
  "Jones",
  "Williams",
  "Brown",
  "Taylor",
  "Davies",
  "Evans",
  "Thomas",
  "Roberts",
  "Walker",
  "Wright",
  "Robinson",
  "Thompson",
  "White",
  "Hughes",
  "Edwards",
  "Green",
  "Hall",
  "Wood",
  "Harris",
  "Lewis",
  "Martin",
  "Jackson",
  "Clarke",
  "Clark",
  "Turner",
  "Hill",
  "Scott",
  "Cooper",
  "Morris",
  "Ward",
  "Moore",
  "King",
  "Watson",
  "Baker",
  "Harrison",
  "Morgan",
  "Patel",
  "Young",
  "Allen",
  "Mitchell",
  "James",
  "Anderson",
  "Phillips",
  "Lee",
  "Bell",
  "Parker",
  "Davis",
  "Miller",
  "Garcia",
  "Rodriguez",
  "Martinez",
  "Hernandez",
  "Lopez",
  "Gonzalez",
  "Perez",
  "Sanchez",
  "Ramirez",
  "Torres",
  "Flores",
  "Rivera",
  "Gomez",
  "Diaz",
  "Reyes",
  "Cruz",
  "Morales",
  "Ortiz",
  "Gutierrez",
  "Chavez",
  "Ramos",
  "Müller",
  "Schmidt",
  "Schneider",
  "Fischer",
  "Weber",
  "Meyer",
  "Wagner",
  "Becker",
  "Schulz",
  "Hoffmann",
];
const DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example.io", "uni.example.edu"];

/** Small fast seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uuidV4(r: () => number): string {
  const h8 = () =>
    Math.floor(r() * 0x1_0000_0000)
      .toString(16)
      .padStart(8, "0");
  const a = h8();
  const b = h8();
  const c = h8();
  const d = h8();
  const variant = "89ab"[Math.floor(r() * 4)] as string;
  return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

const pick = <T>(r: () => number, a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;

/** Kratos timestamps carry microseconds: 2025-06-01T10:00:00.123456Z. */
function kratosTime(ms: number, r: () => number): string {
  const iso = new Date(ms).toISOString(); // …sss Z
  return `${iso.slice(0, -1)}${String(Math.floor(r() * 1000)).padStart(3, "0")}Z`;
}

/**
 * The JSON text of a whoami answer, as Kratos v1.3 sends it (fields the mapper
 * ignores included, so parsing allocates what production parsing allocates).
 */
export function whoamiJson(i: number, now = Date.now()): string {
  const r = rng(i * 7919 + 17);
  const sid = uuidV4(r);
  const iid = uuidV4(r);
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  const email = `${first}.${last}${i}@${pick(r, DOMAINS)}`.toLowerCase().replace(/[^a-z0-9.@+-]/g, "");
  const kind = r();
  const methods = kind < 0.75 ? ["password"] : kind < 0.9 ? ["password", "totp"] : kind < 0.97 ? ["oidc"] : ["code"];
  const aal = methods.includes("totp") ? "aal2" : "aal1";
  const authMs = now - Math.floor(r() * 3_600_000);
  const expMs = authMs + 24 * 3_600_000;
  const verified = r() < 0.8;
  const addrId = uuidV4(r);
  const session = {
    id: sid,
    active: true,
    expires_at: kratosTime(expMs, r),
    authenticated_at: kratosTime(authMs, r),
    authenticator_assurance_level: aal,
    authentication_methods: methods.map((m) => ({
      method: m,
      aal: m === "totp" ? "aal2" : "aal1",
      completed_at: kratosTime(authMs, r),
      ...(m === "oidc" ? { provider: "google" } : {}),
    })),
    issued_at: kratosTime(authMs, r),
    identity: {
      id: iid,
      schema_id: "person",
      schema_url: "http://127.0.0.1:7433/schemas/cGVyc29u",
      state: "active",
      state_changed_at: kratosTime(authMs - 86_400_000, r),
      traits: { email, name: { first, last } },
      verifiable_addresses: [
        {
          id: addrId,
          value: email,
          verified,
          via: "email",
          status: verified ? "completed" : "sent",
          ...(verified ? { verified_at: kratosTime(authMs - 3_600_000, r) } : {}),
          created_at: kratosTime(authMs - 86_400_000, r),
          updated_at: kratosTime(authMs - 86_400_000, r),
        },
      ],
      recovery_addresses: [
        {
          id: uuidV4(r),
          value: email,
          via: "email",
          created_at: kratosTime(authMs - 86_400_000, r),
          updated_at: kratosTime(authMs - 86_400_000, r),
        },
      ],
      metadata_public: null,
      created_at: kratosTime(authMs - 86_400_000, r),
      updated_at: kratosTime(authMs - 86_400_000, r),
      organization_id: null,
    },
    devices: [
      {
        id: uuidV4(r),
        ip_address: `10.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}`,
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        location: "",
      },
    ],
  };
  return JSON.stringify(session);
}

/** A session token shaped like Kratos' (ory_st_ + 32 alphanumerics). */
export function sessionToken(i: number): string {
  const r = rng(i * 104_729 + 3);
  const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  let s = "ory_st_";
  for (let k = 0; k < 32; k++) s += abc[Math.floor(r() * abc.length)];
  return s;
}
