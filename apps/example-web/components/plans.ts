export interface PlanInfo {
  id: "starter" | "pro" | "enterprise";
  name: string;
  price: string;
  per: string;
  blurb: string;
  features: string[];
}

export const PLAN_INFO: readonly PlanInfo[] = [
  {
    id: "starter",
    name: "Starter",
    price: "$0",
    per: "forever",
    blurb: "For trying things out with a small team.",
    features: ["Up to 3 members", "Unlimited projects", "Two-factor authentication"],
  },
  {
    id: "pro",
    name: "Pro",
    price: "$12",
    per: "per member / month",
    blurb: "For growing teams that need roles and control.",
    features: ["Unlimited members", "Owner, admin and member roles", "API keys", "Priority support"],
  },
  {
    id: "enterprise",
    name: "Enterprise",
    price: "Custom",
    per: "annual contract",
    blurb: "For organizations with security requirements.",
    features: ["Everything in Pro", "Enforced second factor", "Audit log export", "Dedicated support"],
  },
];
