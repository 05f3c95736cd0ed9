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

  async function create(publicKey) {
    publicKey.challenge = bytes(publicKey.challenge);
    publicKey.user.id = bytes(publicKey.user.id);
    for (const c of publicKey.excludeCredentials || []) c.id = bytes(c.id);
    const credential = await navigator.credentials.create({ publicKey });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: text(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: text(response.attestationObject),
        clientDataJSON: text(response.clientDataJSON),
        transports: response.getTransports ? response.getTransports() : undefined,
      },
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  async function get(publicKey) {
    publicKey.challenge = bytes(publicKey.challenge);
    for (const c of publicKey.allowCredentials || []) c.id = bytes(c.id);
    const credential = await navigator.credentials.get({ publicKey });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: text(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: text(response.authenticatorData),
        clientDataJSON: text(response.clientDataJSON),
        signature: text(response.signature),
        userHandle: response.userHandle ? text(response.userHandle) : null,
      },
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
        const answer = form.dataset.passkey === 'create'
          ? await create(options.publicKey)
          : await get(options.publicKey);
        form.elements.credential.value = JSON.stringify(answer);
        form.submit();
      } catch (e) {
        status.textContent = `The passkey did not answer (${e.name}). Reload the page to try again.`;
      }
    });
  }
})();
