// Starts archdsl's language server (`archdsl lsp`, docs/editor.md) for .arch files: diagnostics, hover,
// completion, go to definition, the outline and inlay hints. The TextMate grammar highlights without it.
"use strict";

const vscode = require("vscode");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("archdsl").get("server.command", ["archdsl", "lsp"]);
  if (!Array.isArray(command) || command.length === 0) {
    return; // the server is turned off: highlighting only
  }
  let languageclient;
  try {
    languageclient = require("vscode-languageclient/node");
  } catch (err) {
    vscode.window.showWarningMessage(
      "archdsl: run `npm install` in the extension's folder to use the language server (highlighting works without it)"
    );
    return;
  }
  const { LanguageClient, TransportKind } = languageclient;
  const server = { command: command[0], args: command.slice(1), transport: TransportKind.stdio };
  client = new LanguageClient("archdsl", "archdsl", server, { documentSelector: [{ language: "arch" }] });
  client.start();
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
