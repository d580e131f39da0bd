"""The six OAI-PMH 2.0 verbs over the bank, their argument rules and error codes, answered as XML (lxml)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from lxml import etree

from index.knowledge_base import KnowledgeBase
from ingest.knowledge import Experience
from pedkb.settings import Settings
from search_api.oai import dublin_core
from search_api.oai.harvest import (
    SET_KINDS,
    OaiArgumentError,
    OaiItem,
    Selection,
    all_items,
    datestamp,
    decode_token,
    page,
    parse_datestamp,
)

OAI = "http://www.openarchives.org/OAI/2.0/"
XSI = dublin_core.XSI
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
METADATA_FORMATS = {"oai_dc": (dublin_core.OAI_DC_SCHEMA, dublin_core.OAI_DC)}
# verb -> (required arguments, optional arguments, exclusive argument)
VERBS: dict[str, tuple[frozenset[str], frozenset[str], str | None]] = {
    "Identify": (frozenset(), frozenset(), None),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"}), None),
    "ListSets": (frozenset(), frozenset(), "resumptionToken"),
    "ListIdentifiers": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}), "resumptionToken"),
    "ListRecords": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}), "resumptionToken"),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset(), None),
}
SET_NAMES = {"type": "Item type", "lang": "Language", "tech": "Teaching technology"}
TYPE_NAMES = {"experience": "Best-practice experiences", "document": "Documents"}


class Provider:
    """Answers OAI-PMH requests for one knowledge base."""

    def __init__(self, kb: KnowledgeBase, settings: Settings, base_url: str, site_url: str) -> None:
        self.kb = kb
        self.settings = settings
        self.base_url = base_url  # of the OAI endpoint
        self.site_url = site_url  # of the web page the records link to
        self.prefix = f"oai:{settings.oai_namespace}:"

    def respond(self, args: Mapping[str, Sequence[str]]) -> bytes:
        """The XML answer to a request's arguments (every value list as given, to catch repeated arguments)."""
        root = etree.Element(f"{{{OAI}}}OAI-PMH", nsmap={None: OAI, "xsi": XSI})
        root.set(f"{{{XSI}}}schemaLocation", f"{OAI} {OAI_SCHEMA}")
        etree.SubElement(root, f"{{{OAI}}}responseDate").text = datestamp(dt.datetime.now(dt.UTC).timestamp())
        request = etree.SubElement(root, f"{{{OAI}}}request")
        request.text = self.base_url
        try:
            verb, values = self._checked(args)
            for name, value in values.items():  # only a request without badVerb/badArgument echoes its arguments
                request.set(name, value)
            request.set("verb", verb)
            getattr(self, f"_{verb}")(etree.SubElement(root, f"{{{OAI}}}{verb}"), values)
        except OaiArgumentError as exc:
            for extra in root[2:]:
                root.remove(extra)
            if exc.code in ("badVerb", "badArgument"):  # the request is not echoed when it is malformed
                request.attrib.clear()
            error = etree.SubElement(root, f"{{{OAI}}}error", code=exc.code)
            error.text = str(exc)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    # --- arguments ---------------------------------------------------------------------------------------------
    def _checked(self, args: Mapping[str, Sequence[str]]) -> tuple[str, dict[str, str]]:
        verbs = args.get("verb", [])
        if len(verbs) != 1 or verbs[0] not in VERBS:
            raise OaiArgumentError("badVerb", "the verb is missing, repeated or not an OAI-PMH verb"
                                   if len(verbs) != 1 else f"{verbs[0]!r} is not an OAI-PMH verb")
        verb = verbs[0]
        required, optional, exclusive = VERBS[verb]
        values: dict[str, str] = {}
        for name, given in args.items():
            if name == "verb":
                continue
            if name not in required | optional | {exclusive}:
                raise OaiArgumentError("badArgument", f"{verb} takes no argument {name!r}")
            if len(given) != 1:
                raise OaiArgumentError("badArgument", f"{name} is given {len(given)} times")
            values[name] = given[0]
        if exclusive is not None and exclusive in values:
            if len(values) > 1:
                raise OaiArgumentError("badArgument", f"{exclusive} is an exclusive argument")
            return verb, values
        missing = sorted(required - values.keys())
        if missing:
            raise OaiArgumentError("badArgument", f"{verb} needs {', '.join(missing)}")
        if "metadataPrefix" in values and values["metadataPrefix"] not in METADATA_FORMATS:
            raise OaiArgumentError("cannotDisseminateFormat", f"{values['metadataPrefix']!r} is not served "
                                                              f"(formats: {', '.join(METADATA_FORMATS)})")
        return verb, values

    def _selection(self, values: dict[str, str]) -> Selection:
        if "resumptionToken" in values:
            selection = decode_token(values["resumptionToken"])
            if selection.prefix not in METADATA_FORMATS:
                raise OaiArgumentError("badResumptionToken", "the token names a format this server does not serve")
            return selection
        start = end = None
        grains = set()
        if "from" in values:
            start, grain = parse_datestamp(values["from"], "from", end=False)
            grains.add(grain)
        if "until" in values:
            end, grain = parse_datestamp(values["until"], "until", end=True)
            grains.add(grain)
        if len(grains) > 1:
            raise OaiArgumentError("badArgument", "from and until must have the same granularity")
        if start is not None and end is not None and start > end:
            raise OaiArgumentError("badArgument", "from is later than until")
        return Selection(values["metadataPrefix"], values.get("set"), start, end)

    def _item(self, identifier: str) -> OaiItem:
        doc_id = identifier.removeprefix(self.prefix)
        if identifier.startswith(self.prefix):
            for item in all_items(self.kb):
                if item.doc_id == doc_id:
                    return item
        raise OaiArgumentError("idDoesNotExist", f"{identifier!r} is not an identifier of this repository")

    # --- verbs -------------------------------------------------------------------------------------------------
    def _Identify(self, out: etree._Element, values: dict[str, str]) -> None:  # noqa: N802 - the verb's name
        items = all_items(self.kb)  # in datestamp order
        earliest = items[0].stamp if items else dt.datetime.now(dt.UTC).timestamp()
        for name, text in (("repositoryName", self.settings.oai_repository_name), ("baseURL", self.base_url),
                           ("protocolVersion", "2.0"), ("adminEmail", self.settings.oai_admin_email),
                           ("earliestDatestamp", datestamp(earliest)),
                           ("deletedRecord", "persistent"), ("granularity", "YYYY-MM-DDThh:mm:ssZ")):
            etree.SubElement(out, f"{{{OAI}}}{name}").text = text

    def _ListMetadataFormats(self, out: etree._Element, values: dict[str, str]) -> None:  # noqa: N802
        if "identifier" in values:
            self._item(values["identifier"])
        for prefix, (schema, namespace) in METADATA_FORMATS.items():
            fmt = etree.SubElement(out, f"{{{OAI}}}metadataFormat")
            for name, text in (("metadataPrefix", prefix), ("schema", schema), ("metadataNamespace", namespace)):
                etree.SubElement(fmt, f"{{{OAI}}}{name}").text = text

    def _ListSets(self, out: etree._Element, values: dict[str, str]) -> None:  # noqa: N802
        if "resumptionToken" in values:
            raise OaiArgumentError("badResumptionToken", "the set list is sent whole; there is nothing to resume")
        vocab = self.kb.vocabulary
        sets = [(kind, SET_NAMES[kind]) for kind in SET_KINDS]
        sets += [(f"type:{kind}", name) for kind, name in TYPE_NAMES.items()]
        sets += [(f"lang:{lang}", name) for lang, name in (("kk", "Kazakh"), ("ru", "Russian"), ("ky", "Kyrgyz"))]
        sets += [(f"tech:{tech.id}", tech.labels.en) for tech in vocab.technologies.values()]
        for spec, name in sets:
            entry = etree.SubElement(out, f"{{{OAI}}}set")
            etree.SubElement(entry, f"{{{OAI}}}setSpec").text = spec
            etree.SubElement(entry, f"{{{OAI}}}setName").text = name

    def _ListIdentifiers(self, out: etree._Element, values: dict[str, str]) -> None:  # noqa: N802
        self._list(out, values, records=False)

    def _ListRecords(self, out: etree._Element, values: dict[str, str]) -> None:  # noqa: N802
        self._list(out, values, records=True)

    def _GetRecord(self, out: etree._Element, values: dict[str, str]) -> None:  # noqa: N802
        self._record(out, self._item(values["identifier"]))

    def _list(self, out: etree._Element, values: dict[str, str], *, records: bool) -> None:
        selection = self._selection(values)
        result = page(all_items(self.kb), selection, self.settings.oai_page_size)
        if not result.items:
            if "resumptionToken" in values:
                raise OaiArgumentError("badResumptionToken", "the token points past the end of its list")
            raise OaiArgumentError("noRecordsMatch", "no item matches the set and dates given")
        for item in result.items:
            if records:
                self._record(out, item)
            else:
                self._header(out, item)
        if result.token is not None or "resumptionToken" in values:
            token = etree.SubElement(out, f"{{{OAI}}}resumptionToken", completeListSize=str(result.total),
                                     cursor=str(result.cursor))
            token.text = result.token  # empty on the last page of a resumed list

    def _header(self, parent: etree._Element, item: OaiItem) -> None:
        header = etree.SubElement(parent, f"{{{OAI}}}header")
        if item.doc is None:
            header.set("status", "deleted")
        etree.SubElement(header, f"{{{OAI}}}identifier").text = self.prefix + item.doc_id
        etree.SubElement(header, f"{{{OAI}}}datestamp").text = datestamp(item.stamp)
        for spec in item.sets:
            etree.SubElement(header, f"{{{OAI}}}setSpec").text = spec

    def _record(self, parent: etree._Element, item: OaiItem) -> None:
        record = etree.SubElement(parent, f"{{{OAI}}}record")
        self._header(record, item)
        if item.doc is None:
            return
        metadata = etree.SubElement(record, f"{{{OAI}}}metadata")
        if item.kind == "experience":
            exp = Experience.model_validate(item.doc.meta["record"])
            dublin_core.experience_dc(metadata, exp, self.kb.vocabulary, self.site_url)
        else:
            dublin_core.document_dc(metadata, item.doc, self.kb.vocabulary, self.site_url)
