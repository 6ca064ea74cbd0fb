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

  // After a ticket's event was sent: once a worker has applied it (it is in the ticket's history), reload the page
  // to show the ticket's new state and what was recorded (`what`, shown by the ticket page after the reload).
  // False when it is not applied within 30 seconds.
  async reloadWhenApplied(ticketId, eventId, what) {
    for (let tries = 0; tries < 60; tries++) {
      await new Promise((done) => setTimeout(done, 500));
      const { events } = await Live.json("/api/tickets/" + encodeURIComponent(ticketId) + "/events");
      if (events.some((e) => e.event_id === eventId)) {
        sessionStorage.setItem("recorded:" + ticketId, what);
        location.reload();
        return true;
      }
    }
    return false;
  },

  // A refresh made of fetchAll() (which fetches all the page shows) and draw(data). Live events, typing and
  // changes of filter ask for refreshes faster than a busy server answers, so one runs at a time: asking while
  // one is under way asks for one more after it, which fetches the page's filters as they are then. The promise
  // a refresh returns settles once something fetched after the asking is drawn. Nothing is drawn twice over, no
  // answer replaces a later one, and the server never has two of a page's fetches at once.
  latest(fetchAll, draw) {
    let pending = null, again = false;
    async function run() {
      do { again = false; draw(await fetchAll()); } while (again);
    }
    return function refresh() {
      if (pending) { again = true; return pending; }
      pending = run().finally(() => { pending = null; });
      return pending;
    };
  },
};
