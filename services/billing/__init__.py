"""The billing service: cotisations of members, mission fees, gapless invoices and
credit notes."""
