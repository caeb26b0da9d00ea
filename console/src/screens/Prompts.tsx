// Prompts screen: not built yet.

/** Prompts is the Prompts screen. */
export default function Prompts() {
  return (
    <section>
      <h1>Prompts</h1>
      <p className="muted">This screen is not built yet.</p>
    </section>
  );
}
