export function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No page here. <a href="/ui/">Back to the signatures</a>.
      </p>
    </section>
  );
}
