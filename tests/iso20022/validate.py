"""Validates ISO 20022 documents against the message definitions generated
from the official XSDs (pyiso20022's xsdata models): the document is parsed
strictly (an unknown element or attribute, a missing required one, a wrong
order or a value outside its type fails; the order by writing the parsed
message back in the XSD's sequence and comparing), then every field is checked against
its facets (lengths, patterns, code lists, occurrences).

    python3 validate.py FILE...     exit 1 on the first invalid document
"""

import importlib
import importlib.util
import pathlib
import re
import sys

import pyiso20022
from lxml import etree
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig
from xsdata.formats.dataclass.serializers import XmlSerializer

# The validator alone: the package's `tools` would import pandas for its Excel export.
_spec = importlib.util.spec_from_file_location(
    "iso20022_validation", pathlib.Path(pyiso20022.__file__).parent / "tools" / "validation.py")
_validation = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_validation)
validate_message = _validation.validate_message

NAMESPACE = re.compile(rb'xmlns="urn:iso:std:iso:20022:tech:xsd:([a-z]+)\.(\d{3})\.(\d{3})\.(\d{2})"')


def model(document):
    m = NAMESPACE.search(document)
    if not m:
        raise SystemExit("validate.py: no ISO 20022 namespace in the document")
    family, *numbers = (g.decode() for g in m.groups())
    name = f"{family}_{'_'.join(numbers)}"
    return name, importlib.import_module(f"pyiso20022.{family}.{name}").Document


def tags(document):
    return [e.tag for e in etree.fromstring(document).iter()]


def main():
    parser = XmlParser(config=ParserConfig(fail_on_unknown_properties=True,
                                           fail_on_unknown_attributes=True,
                                           fail_on_converter_warnings=True))
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            document = f.read()
        name, kind = model(document)
        parsed = parser.from_bytes(document, kind)
        written = XmlSerializer().render(parsed).encode()
        if tags(written) != tags(document):
            sys.exit(f"{path}: elements out of the XSD's order:\n{document.decode()}")
        result = validate_message(parsed)
        if not result.is_valid:
            sys.exit(f"{path}: not a valid {name}:\n" + "\n".join(str(e) for e in result.errors))
        print(f"{path}: valid {name}")


if __name__ == "__main__":
    main()
