/**
 * The status-bar item: worker state and the execution provider in use (with fallback reasons in the tooltip).
 * Clicking it focuses the "Worker & Models" view.
 */
import * as vscode from 'vscode';
import type { WorkerModel } from './model';
import { statusBarLook } from './present';
import { STATUS_VIEW_ID } from './statusView';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('concert.worker', vscode.StatusBarAlignment.Right, 100);
  private readonly sub: vscode.Disposable;

  constructor(private readonly model: WorkerModel) {
    this.item.name = 'Concert Worker';
    this.item.command = `${STATUS_VIEW_ID}.focus`;
    this.sub = model.onDidChange(() => this.update());
    this.update();
    this.item.show();
  }

  private update(): void {
    const c = this.model.client;
    const look = statusBarLook(c.state, c.provider, this.model.started, this.model.error);
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
