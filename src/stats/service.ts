import type { Herald } from '../herald-context.ts';

export interface WorkspaceStats {
  workspaceId: string;
  activeApiKeys: number;
  updatedAt: Date;
}

/** Counts for a workspace dashboard. Later domains (contacts, campaigns) add their figures here. */
export async function workspaceStats(herald: Herald, workspaceId: string): Promise<WorkspaceStats> {
  const activeApiKeys = await herald.prisma.apiKey.count({ where: { workspaceId, revokedAt: null } });
  return { workspaceId, activeApiKeys, updatedAt: new Date() };
}
