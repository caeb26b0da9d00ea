// Dashboards screen: not built yet.

/** Dashboards is the Dashboards screen. */
export default function Dashboards() {
  return (
    <section>
      <h1>Dashboards</h1>
      <p className="muted">This screen is not built yet.</p>
    </section>
  );
}
