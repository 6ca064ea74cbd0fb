// What every live page shares (loaded by base.html before the page's own script).
const Live = {
  leaving: false,  // on the way to the log-in page: set by the first 401, so requests in flight do not go again

  // JSON from the app as the logged-in user. A lapsed session goes to the log-in page and back to this one;
  // an answer that is not OK throws with the server's reason.
  async json(url, options) {
    options = Object.assign({ credentials: "same-origin" }, options);
    options.headers = Object.assign({ "X-Requested-With": "fetch" }, options.headers);  // no Basic challenge for a page
    const r = await fetch(url, options);
    if (r.status === 401) {
      if (!Live.leaving) {
        Live.leaving = true;
        location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      }
      throw new Error("log in first");
    }
    const body = await r.json();
    if (!r.ok) throw new Error(body.detail || r.statusText);
    return body;
  },

  // A refresh made of fetchAll() (which fetches all the page shows) and draw(data). Refreshes overlap (live
  // events, typing, a change of filter), so an answer older than the one shown is dropped: a slow answer never
  // replaces the figures of a later one, and nothing is drawn twice over.
  latest(fetchAll, draw) {
    let asked = 0, shown = 0;
    return async function refresh() {
      const mine = ++asked;
      const data = await fetchAll();
      if (mine < shown) return;
      shown = mine;
      draw(data);
    };
  },
};
