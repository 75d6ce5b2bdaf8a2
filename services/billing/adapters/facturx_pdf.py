"""The Factur-X file: a PDF/A-3b (WeasyPrint) with the CII XML embedded (``factur-x``).

``factur-x`` 7.8 replaces WeasyPrint's XMP metadata with its own, which veraPDF (and
so Mustang and Chorus Pro's checks) reject: its ``rdf:RDF`` carries no namespace
declaration and its ``rdf:Description`` no ``rdf:about=""``, and its dates and producer
disagree with the document information dictionary. So the XMP is written again here,
once, with the same values as that dictionary (/work/shared/validators/README.md).

Every date in the file is the invoice's issue time, never "now", so the same invoice
gives the same bytes on every run (the Chorus Pro export depends on it).
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

import facturx
from lxml import etree
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DecodedStreamObject,
    NameObject,
    TextStringObject,
)
from weasyprint import HTML

from services.billing.adapters.facturx_xml import cii_bytes, cii_xml
from services.billing.domain.einvoice import EInvoice, einvoice
from services.billing.domain.facturx_html import render_facturx_html
from services.billing.domain.identities import Buyer, References, Seller
from services.billing.domain.invoice import Invoice

FACTURX_URN = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
PRODUCER = "Matière Grise (WeasyPrint, factur-x)"
_NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdfaExtension": "http://www.aiim.org/pdfa/ns/extension/",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#",
    "fx": FACTURX_URN,
}
_FX_PROPERTIES = (
    ("DocumentFileName", "The name of the embedded XML document"),
    ("DocumentType", "The type of the hybrid document in capital letters, e.g. INVOICE"),
    ("Version", "The actual version of the standard applying to the embedded XML document"),
    ("ConformanceLevel", "The conformance level of the embedded XML document"),
)


def _q(tag: str) -> str:
    prefix, name = tag.split(":")
    return f"{{{_NS[prefix]}}}{name}"


def _el(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _q(tag))
    element.text = text
    return element


def _description(rdf: etree._Element, *prefixes: str) -> etree._Element:
    # Each rdf:Description declares its own namespaces and says what it describes.
    return etree.SubElement(
        rdf, _q("rdf:Description"), {_q("rdf:about"): ""}, nsmap={p: _NS[p] for p in prefixes}
    )


def _lang_alt(parent: etree._Element, tag: str, text: str) -> None:
    alt = _el(_el(parent, tag), "rdf:Alt")
    li = _el(alt, "rdf:li", text)
    li.set("{http://www.w3.org/XML/1998/namespace}lang", "x-default")


def xmp_bytes(info: dict[str, str], moment: datetime) -> bytes:
    """The XMP packet saying what ``info`` says, for a Factur-X EN 16931 PDF/A-3b."""
    root = etree.Element(_q("x:xmpmeta"), nsmap={"x": _NS["x"]})
    rdf = etree.SubElement(root, _q("rdf:RDF"), nsmap={"rdf": _NS["rdf"]})
    pdfa = _description(rdf, "pdfaid")
    _el(pdfa, "pdfaid:part", "3")
    _el(pdfa, "pdfaid:conformance", "B")
    dc = _description(rdf, "dc")
    _lang_alt(dc, "dc:title", info["/Title"])
    _el(_el(_el(dc, "dc:creator"), "rdf:Seq"), "rdf:li", info["/Author"])
    _lang_alt(dc, "dc:description", info["/Subject"])
    pdf = _description(rdf, "pdf")
    _el(pdf, "pdf:Producer", info["/Producer"])
    _el(pdf, "pdf:Keywords", info["/Keywords"])
    xmp = _description(rdf, "xmp")
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    _el(xmp, "xmp:CreatorTool", info["/Creator"])
    _el(xmp, "xmp:CreateDate", stamp)
    _el(xmp, "xmp:ModifyDate", stamp)
    extension = _description(rdf, "pdfaExtension", "pdfaSchema", "pdfaProperty")
    bag = _el(_el(extension, "pdfaExtension:schemas"), "rdf:Bag")
    schema = _el(bag, "rdf:li")
    schema.set(_q("rdf:parseType"), "Resource")
    _el(schema, "pdfaSchema:schema", "Factur-X PDFA Extension Schema")
    _el(schema, "pdfaSchema:namespaceURI", FACTURX_URN)
    _el(schema, "pdfaSchema:prefix", "fx")
    properties = _el(_el(schema, "pdfaSchema:property"), "rdf:Seq")
    for name, description in _FX_PROPERTIES:
        item = _el(properties, "rdf:li")
        item.set(_q("rdf:parseType"), "Resource")
        _el(item, "pdfaProperty:name", name)
        _el(item, "pdfaProperty:valueType", "Text")
        _el(item, "pdfaProperty:category", "external")
        _el(item, "pdfaProperty:description", description)
    fx = _description(rdf, "fx")
    _el(fx, "fx:DocumentType", "INVOICE")
    _el(fx, "fx:DocumentFileName", "factur-x.xml")
    _el(fx, "fx:Version", "1.0")
    _el(fx, "fx:ConformanceLevel", "EN 16931")
    body = etree.tostring(root, encoding="UTF-8").decode()
    head = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    return f'{head}\n{body}\n<?xpacket end="w"?>'.encode()


def _info(doc: EInvoice, moment: datetime) -> dict[str, str]:
    kind = "Avoir" if doc.is_credit_note else "Facture"
    stamp = moment.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")
    return {
        "/Title": f"{kind} n° {doc.number}",
        "/Author": doc.seller.legal_name,
        "/Subject": f"{kind} n° {doc.number} à {doc.buyer.name}",
        "/Keywords": f"{kind}, Factur-X, EN 16931",
        "/Creator": PRODUCER,
        "/Producer": PRODUCER,
        "/CreationDate": stamp,
        "/ModDate": stamp,
    }


def facturx_pdf(invoice: Invoice, seller: Seller, buyer: Buyer, references: References) -> bytes:
    """The Factur-X PDF of ``invoice``; a :class:`DomainValidationError` (French) if it
    cannot be sent, raised before anything is rendered."""
    return facturx_pdf_bytes(einvoice(invoice, seller, buyer, references), invoice.issued_at)


def facturx_pdf_bytes(doc: EInvoice, issued_at: datetime) -> bytes:
    """The Factur-X PDF of ``doc`` (PDF/A-3b, EN 16931 XML embedded as factur-x.xml)."""
    xml = cii_bytes(doc)
    visual = HTML(string=render_facturx_html(doc)).write_pdf(pdf_variant="pdf/a-3b")
    info = _info(doc, issued_at)
    embedded = facturx.generate_from_binary(
        visual, xml, flavor="factur-x", level="en16931", check_xsd=False, lang="fr-FR"
    )
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(embedded)))
    metadata = DecodedStreamObject()
    metadata.set_data(xmp_bytes(info, issued_at))
    metadata.update(
        {NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")}
    )
    # In place: a second metadata stream left in the file would still carry factur-x's
    # clock time, and the same invoice would not give the same bytes.
    writer._replace_object(writer.root_object.raw_get("/Metadata"), metadata)
    writer.add_metadata(info)
    _stamp_attachment(writer, info["/ModDate"])
    # The file identifier derives from the content, so the same invoice gives the same bytes.
    identifier = ByteStringObject(hashlib.md5(xml, usedforsecurity=False).digest())
    writer._ID = ArrayObject([identifier, identifier])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _stamp_attachment(writer: PdfWriter, stamp: str) -> None:
    """The embedded XML's modification date is the invoice's, not the run's."""
    names = writer.root_object["/Names"]["/EmbeddedFiles"]["/Names"]  # type: ignore[index]
    for spec in list(names)[1::2]:
        embedded = spec.get_object()["/EF"]["/F"].get_object()
        embedded["/Params"][NameObject("/ModDate")] = TextStringObject(stamp)


class FacturXFiles:
    """The :class:`~services.billing.service_layer.ports.FacturXRenderer` of the service."""

    def pdf(self, invoice: Invoice, seller: Seller, buyer: Buyer, references: References) -> bytes:
        return facturx_pdf(invoice, seller, buyer, references)

    def xml(self, invoice: Invoice, seller: Seller, buyer: Buyer, references: References) -> bytes:
        return cii_xml(invoice, seller, buyer, references)
