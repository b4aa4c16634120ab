/**
 * The status-bar item: worker state and the execution provider in use (with fallback reasons in the tooltip).
 * Clicking it focuses the "Worker & Models" view.
 */
import * as vscode from 'vscode';
import { statusBarLook } from './present';
import { STATUS_VIEW_ID } from './statusView';
import type { WorkerStore } from './workerStore';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('concert.worker', vscode.StatusBarAlignment.Right, 100);
  private readonly sub: vscode.Disposable;

  constructor(private readonly store: WorkerStore) {
    this.item.name = 'Concert Worker';
    this.item.command = `${STATUS_VIEW_ID}.focus`;
    this.sub = store.onDidChange(() => this.update());
    this.update();
    this.item.show();
  }

  private update(): void {
    const c = this.store.client;
    const look = statusBarLook(c.state, c.provider, this.store.started, this.store.error);
    this.item.text = look.text;
    this.item.tooltip = look.tooltip;
    this.item.accessibilityInformation = { label: look.text.replace(/\$\([^)]*\)\s*/g, '').trim() };
    this.item.backgroundColor = look.background ? new vscode.ThemeColor(look.background) : undefined;
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}
