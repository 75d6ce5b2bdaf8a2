"""The UN/CEFACT CII D16B XML of an invoice, profile EN 16931 (Factur-X "EN 16931").

Built as a tree with lxml from the checked business terms (:mod:`..domain.einvoice`),
element by element in the order of the CII schema; the ``factur-x`` library checks the
result against the profile's XSD (:func:`cii_xml`), and the tests hold it against the
CEN's Schematron and Mustang.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import facturx
from lxml import etree
from lxml.etree import _Element

from services.billing.domain.einvoice import (
    GUIDELINE_EN16931,
    PAYMENT_CREDIT_TRANSFER,
    EInvoice,
    EInvoiceLine,
    VatBreakdown,
    einvoice,
)
from services.billing.domain.identities import Buyer, PostalAddress, References, Seller
from services.billing.domain.invoice import Invoice

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
SIRET_SCHEME = "0009"


def _sub(parent: _Element, tag: str, text: str | None = None, **attrs: str) -> _Element:
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _date(parent: _Element, tag: str, day: date, kind: str = "udt") -> None:
    holder = _sub(parent, tag)
    _sub(holder, f"{kind}:DateTimeString", day.strftime("%Y%m%d"), format="102")


def _address(party: _Element, address: PostalAddress | None) -> None:
    element = _sub(party, "ram:PostalTradeAddress")
    if address is not None:
        _sub(element, "ram:PostcodeCode", address.postcode)
        _sub(element, "ram:LineOne", address.line)
        _sub(element, "ram:CityName", address.city)
    _sub(element, "ram:CountryID", address.country if address else "FR")


def _party(agreement: _Element, tag: str, siret: str, name: str) -> _Element:
    """A party named by its SIRET (scheme 0009) as identifier and legal registration."""
    party = _sub(agreement, tag)
    _sub(party, "ram:GlobalID", siret, schemeID=SIRET_SCHEME)
    _sub(party, "ram:Name", name)
    legal = _sub(party, "ram:SpecifiedLegalOrganization")
    _sub(legal, "ram:ID", siret, schemeID=SIRET_SCHEME)
    return party


def _seller(agreement: _Element, seller: Seller) -> None:
    party = _party(agreement, "ram:SellerTradeParty", seller.siret, seller.legal_name)
    _address(party, seller.address)
    if seller.email:
        uri = _sub(party, "ram:URIUniversalCommunication")
        _sub(uri, "ram:URIID", seller.email, schemeID="EM")
    if seller.vat_number:
        tax = _sub(party, "ram:SpecifiedTaxRegistration")
        _sub(tax, "ram:ID", seller.vat_number, schemeID="VA")


def _buyer(agreement: _Element, buyer: Buyer) -> None:
    party = _party(agreement, "ram:BuyerTradeParty", buyer.siret, buyer.name)
    _address(party, buyer.address)


def _line(transaction: _Element, line: EInvoiceLine) -> None:
    item = _sub(transaction, "ram:IncludedSupplyChainTradeLineItem")
    document = _sub(item, "ram:AssociatedDocumentLineDocument")
    _sub(document, "ram:LineID", line.line_id)
    product = _sub(item, "ram:SpecifiedTradeProduct")
    _sub(product, "ram:Name", line.name)
    agreement = _sub(item, "ram:SpecifiedLineTradeAgreement")
    price = _sub(agreement, "ram:NetPriceProductTradePrice")
    _sub(price, "ram:ChargeAmount", f"{line.net_price:f}")
    delivery = _sub(item, "ram:SpecifiedLineTradeDelivery")
    _sub(delivery, "ram:BilledQuantity", f"{line.quantity:f}", unitCode=line.unit_code)
    settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
    tax = _sub(settlement, "ram:ApplicableTradeTax")
    _sub(tax, "ram:TypeCode", "VAT")
    _sub(tax, "ram:CategoryCode", line.category)
    if line.rate_percent is not None:
        _sub(tax, "ram:RateApplicablePercent", f"{line.rate_percent:.2f}")
    summation = _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    _sub(summation, "ram:LineTotalAmount", _amount(line.net_amount))


def _tax(settlement: _Element, group: VatBreakdown) -> None:
    tax = _sub(settlement, "ram:ApplicableTradeTax")
    _sub(tax, "ram:CalculatedAmount", _amount(group.tax))
    _sub(tax, "ram:TypeCode", "VAT")
    if group.exemption_reason:
        _sub(tax, "ram:ExemptionReason", group.exemption_reason)
    _sub(tax, "ram:BasisAmount", _amount(group.basis))
    _sub(tax, "ram:CategoryCode", group.category)
    if group.exemption_code:
        _sub(tax, "ram:ExemptionReasonCode", group.exemption_code)
    if group.rate_percent is not None:
        _sub(tax, "ram:RateApplicablePercent", f"{group.rate_percent:.2f}")


def _settlement(transaction: _Element, doc: EInvoice) -> None:
    settlement = _sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    # BT-83: the number is what the payer writes on the transfer.
    _sub(settlement, "ram:PaymentReference", doc.number)
    _sub(settlement, "ram:InvoiceCurrencyCode", doc.currency)
    means = _sub(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
    _sub(means, "ram:TypeCode", PAYMENT_CREDIT_TRANSFER)
    _sub(means, "ram:Information", "Virement")
    account = _sub(means, "ram:PayeePartyCreditorFinancialAccount")
    _sub(account, "ram:IBANID", doc.seller.bank.iban)
    _sub(account, "ram:AccountName", doc.seller.legal_name)
    institution = _sub(means, "ram:PayeeSpecifiedCreditorFinancialInstitution")
    _sub(institution, "ram:BICID", doc.seller.bank.bic)
    for group in doc.breakdown:
        _tax(settlement, group)
    terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
    _sub(terms, "ram:Description", doc.payment_terms)
    if doc.due_date is not None:
        _date(terms, "ram:DueDateDateTime", doc.due_date)
    sums = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(sums, "ram:LineTotalAmount", _amount(doc.line_total))
    _sub(sums, "ram:TaxBasisTotalAmount", _amount(doc.line_total))
    _sub(sums, "ram:TaxTotalAmount", _amount(doc.tax_total), currencyID=doc.currency)
    _sub(sums, "ram:GrandTotalAmount", _amount(doc.grand_total))
    _sub(sums, "ram:DuePayableAmount", _amount(doc.grand_total))
    cancelled = doc.references
    if doc.is_credit_note and cancelled.cancelled_number and cancelled.cancelled_issued_on:
        reference = _sub(settlement, "ram:InvoiceReferencedDocument")
        _sub(reference, "ram:IssuerAssignedID", cancelled.cancelled_number)
        _date(reference, "ram:FormattedIssueDateTime", cancelled.cancelled_issued_on, "qdt")


def cii_tree(doc: EInvoice) -> _Element:
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = _sub(root, "rsm:ExchangedDocumentContext")
    guideline = _sub(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _sub(guideline, "ram:ID", GUIDELINE_EN16931)
    header = _sub(root, "rsm:ExchangedDocument")
    _sub(header, "ram:ID", doc.number)
    _sub(header, "ram:TypeCode", doc.type_code)
    _date(header, "ram:IssueDateTime", doc.issue_date)
    for note in doc.notes:
        included = _sub(header, "ram:IncludedNote")
        _sub(included, "ram:Content", note.text)
        _sub(included, "ram:SubjectCode", note.subject)
    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for line in doc.lines:
        _line(transaction, line)
    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    if doc.buyer.service_code:
        _sub(agreement, "ram:BuyerReference", doc.buyer.service_code)
    _seller(agreement, doc.seller)
    _buyer(agreement, doc.buyer)
    if doc.references.engagement_number:
        order = _sub(agreement, "ram:BuyerOrderReferencedDocument")
        _sub(order, "ram:IssuerAssignedID", doc.references.engagement_number)
    if doc.references.convention_number:
        contract = _sub(agreement, "ram:ContractReferencedDocument")
        _sub(contract, "ram:IssuerAssignedID", doc.references.convention_number)
    _sub(transaction, "ram:ApplicableHeaderTradeDelivery")
    _settlement(transaction, doc)
    return root


def cii_bytes(doc: EInvoice) -> bytes:
    """The XML of ``doc``, checked against the Factur-X EN 16931 XSD."""
    xml: bytes = etree.tostring(
        cii_tree(doc), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    # Our own tree breaking the schema is a bug, not bad input: let it raise.
    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    return xml


def cii_xml(invoice: Invoice, seller: Seller, buyer: Buyer, references: References) -> bytes:
    """The CII XML of ``invoice``; a :class:`DomainValidationError` (French) if it cannot go."""
    return cii_bytes(einvoice(invoice, seller, buyer, references))
