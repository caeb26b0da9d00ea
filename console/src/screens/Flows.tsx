// Flows screen: not built yet.

/** Flows is the Flows screen. */
export default function Flows() {
  return (
    <section>
      <h1>Flows</h1>
      <p className="muted">This screen is not built yet.</p>
    </section>
  );
}
