// Guardrails screen: not built yet.

/** Guardrails is the Guardrails screen. */
export default function Guardrails() {
  return (
    <section>
      <h1>Guardrails</h1>
      <p className="muted">This screen is not built yet.</p>
    </section>
  );
}
