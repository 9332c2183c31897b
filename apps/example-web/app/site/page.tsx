import type { Metadata } from "next";
import { webConfig } from "../../lib/config.ts";

export const metadata: Metadata = { title: "Projects for teams" };

const FEATURES = [
  {
    title: "Sign-in you can trust",
    text: "Email verification, account recovery and two-factor authentication with any authenticator app.",
  },
  {
    title: "Roles that mean something",
    text: "Owners, admins and members: every request is checked by the same guard, in the app and at the API.",
  },
  {
    title: "One session, every surface",
    text: "Sign in once and use the app, the API and the gateway with the same secure session.",
  },
];

export default function Landing() {
  const { webUrl, marketingUrl } = webConfig();
  return (
    <>
      <section className="hero">
        <h1>Ship projects with your team, securely.</h1>
        <p>Gatehouse gives every team a workspace with real roles, strong sign-in and an API that respects both.</p>
        <div className="actions">
          <a className="btn btn-primary" href={`${webUrl}/auth/registration?tier=starter`}>
            Get started free
          </a>
          <a className="btn btn-secondary" href={`${marketingUrl}/pricing`}>
            See pricing
          </a>
        </div>
      </section>
      <section className="features" aria-label="Features">
        {FEATURES.map((f) => (
          <div className="card" key={f.title}>
            <h2>{f.title}</h2>
            <p className="muted">{f.text}</p>
          </div>
        ))}
      </section>
    </>
  );
}
