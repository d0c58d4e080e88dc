"""What billing hands to people: invoices and credit notes as PDF (cloudos.billing.pdf)."""
