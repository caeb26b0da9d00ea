// Evaluations screen: not built yet.

/** Evaluations is the Evaluations screen. */
export default function Evaluations() {
  return (
    <section>
      <h1>Evaluations</h1>
      <p className="muted">This screen is not built yet.</p>
    </section>
  );
}
