// Runs the WebAuthn ceremony a bank page describes in a form's data-options
// (creation options to add a passkey, request options to confirm with one),
// then posts the browser's answer as JSON in the form's "credential" field.
'use strict';
(() => {
  const text = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer)))
      .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const bytes = (value) =>
    Uint8Array.from(atob(value.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

  // Runs navigator.credentials[kind] ('create' or 'get') on the options and
  // returns the browser's answer with its binary fields as base64url.
  async function ceremony(kind, publicKey) {
    publicKey.challenge = bytes(publicKey.challenge);
    if (publicKey.user) publicKey.user.id = bytes(publicKey.user.id);
    const listed = publicKey.excludeCredentials || publicKey.allowCredentials || [];
    for (const c of listed) c.id = bytes(c.id);
    const credential = await navigator.credentials[kind]({ publicKey });
    const r = credential.response;
    const response = kind === 'create'
      ? {
        attestationObject: text(r.attestationObject),
        clientDataJSON: text(r.clientDataJSON),
        transports: r.getTransports ? r.getTransports() : undefined,
      }
      : {
        authenticatorData: text(r.authenticatorData),
        clientDataJSON: text(r.clientDataJSON),
        signature: text(r.signature),
        userHandle: r.userHandle ? text(r.userHandle) : null,
      };
    return {
      id: credential.id,
      rawId: text(credential.rawId),
      type: credential.type,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  for (const form of document.querySelectorAll('form[data-passkey]')) {
    const status = form.querySelector('.passkey-status');
    const button = form.querySelector('button[data-passkey-start]');
    if (!window.PublicKeyCredential) {
      status.textContent = 'This browser does not support passkeys.';
      button.disabled = true;
      continue;
    }
    button.addEventListener('click', async () => {
      if (!form.reportValidity()) return;
      const options = JSON.parse(form.dataset.options);
      button.disabled = true;
      status.textContent = 'Follow your browser\u2019s prompt\u2026';
      try {
        const kind = form.dataset.passkey === 'create' ? 'create' : 'get';
        const answer = await ceremony(kind, options.publicKey);
        form.elements.credential.value = JSON.stringify(answer);
        form.submit();
      } catch (e) {
        status.textContent = `The passkey did not answer (${e.name}). Reload the page to try again.`;
      }
    });
  }
})();
