// Keeps online banking's pending approvals current without a reload: polls
// the session's JSON list (the list's data-source) and redraws the list from
// it, as text only. A poll is not activity: once the session ends, the page
// says so and stops.
'use strict';
(() => {
  const list = document.getElementById('pending');
  const status = document.getElementById('pending-status');
  if (!list || !status) return;
  const EVERY = 5000;

  const item = (p) => {
    const li = document.createElement('li');
    const link = document.createElement('a');
    link.href = p.href;
    link.textContent = `${p.kind}: ${p.app} (${p.tpp})`;
    const when = document.createElement('time');
    when.dateTime = p.created;
    when.textContent = p.createdText;
    const what = document.createElement('ul');
    for (const line of p.what) {
      const entry = document.createElement('li');
      entry.textContent = line;
      what.append(entry);
    }
    li.append(link, ', asked ', when, what);
    return li;
  };

  let shown = list.children.length;
  const draw = (pending) => {
    list.replaceChildren(...pending.map(item));
    if (pending.length !== shown) {
      status.textContent = pending.length === 0
        ? 'No request is waiting for you.'
        : `${pending.length} waiting for you.`;
      shown = pending.length;
    }
  };

  const poll = async () => {
    let answer;
    try {
      answer = await fetch(list.dataset.source, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      });
    } catch {
      setTimeout(poll, EVERY * 3);
      return;
    }
    if (!answer.ok) {
      status.textContent = 'Your session has ended. Sign in again to see new requests.';
      return;
    }
    draw((await answer.json()).pending);
    setTimeout(poll, EVERY);
  };
  setTimeout(poll, EVERY);
})();
