/** The demo's billing data: a few invoices of two customers (tenants). */
export interface Invoice {
  readonly id: string;
  readonly customerId: string;
  readonly amountCents: number;
  readonly status: 'paid' | 'open' | 'overdue';
  readonly issued: string;
}

export const INVOICES: readonly Invoice[] = [
  { id: 'INV-1001', customerId: 'acme', amountCents: 12_500, status: 'paid', issued: '2026-01-05' },
  { id: 'INV-1002', customerId: 'acme', amountCents: 4_990, status: 'open', issued: '2026-02-05' },
  { id: 'INV-2001', customerId: 'globex', amountCents: 250_000, status: 'overdue', issued: '2026-01-12' },
  { id: 'INV-2002', customerId: 'globex', amountCents: 87_300, status: 'open', issued: '2026-02-12' },
];

export function invoicesOf(customerId: string): Invoice[] {
  return INVOICES.filter((invoice) => invoice.customerId === customerId);
}

export function findInvoice(customerId: string, invoiceId: string): Invoice | undefined {
  return INVOICES.find((invoice) => invoice.customerId === customerId && invoice.id === invoiceId);
}

export function formatAmount(cents: number): string {
  return `$${(cents / 100).toFixed(2)}`;
}
