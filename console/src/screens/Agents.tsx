// Agents screen: not built yet.

/** Agents is the Agents screen. */
export default function Agents() {
  return (
    <section>
      <h1>Agents</h1>
      <p className="muted">This screen is not built yet.</p>
    </section>
  );
}
