import type { Metadata } from "next";
import { PLAN_INFO } from "../../../components/plans.ts";
import { webConfig } from "../../../lib/config.ts";

export const metadata: Metadata = { title: "Pricing" };

export default function Pricing() {
  const { webUrl } = webConfig();
  return (
    <>
      <div className="section-title">
        <h1>Simple pricing</h1>
        <p className="muted">Start free. Upgrade when your team grows.</p>
      </div>
      <section className="pricing" aria-label="Plans">
        {PLAN_INFO.map((p) => (
          <div key={p.id} className={p.id === "pro" ? "card price-card featured" : "card price-card"} data-plan={p.id}>
            <h2>{p.name}</h2>
            <p className="muted">{p.blurb}</p>
            <div className="price">
              {p.price} <small>{p.per}</small>
            </div>
            <ul>
              {p.features.map((f) => (
                <li key={f}>{f}</li>
              ))}
            </ul>
            <a
              className={p.id === "pro" ? "btn btn-primary btn-block" : "btn btn-secondary btn-block"}
              href={`${webUrl}/auth/registration?tier=${p.id}`}
              aria-label={`Get started with ${p.name}`}
            >
              Get started
            </a>
          </div>
        ))}
      </section>
    </>
  );
}
