"""Small documents of every supported type, generated in code for tests and the benchmark."""

from __future__ import annotations

import io
import zipfile


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string, one list per page."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    bodies = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
        ops += [f"({_pdf_escape(line)}) Tj T*" for line in lines]
        ops.append("ET")
        stream = "\n".join(ops)
        bodies.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        length = len(stream.encode("latin-1"))
        bodies.append(f"<< /Length {length} >>\nstream\n{stream}\nendstream")
    info_ref = ""
    if title is not None:
        bodies.append(f"<< /Title ({_pdf_escape(title)}) >>")
        info_ref = f" /Info {len(bodies)} 0 R"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(bodies) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    trailer = (f"trailer\n<< /Size {len(bodies) + 1} /Root 1 0 R{info_ref} >>\n"
               f"startxref\n{xref}\n%%EOF\n")
    out.write(trailer.encode())
    return out.getvalue()


def make_encrypted_pdf(password: str = "s3cret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["Secret plans"]]))))
    writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(
    title: str, sections: list[tuple[str, list[str]]], table: list[list[str]] | None = None
) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_zip_bomb_docx(expanded_mib: int = 12) -> bytes:
    """A DOCX-shaped archive whose one entry inflates about a thousand times."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (expanded_mib * 1024 * 1024))
    return out.getvalue()


def make_html(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title><style>p{{}}</style></head><body>"
        "<nav><a href='/'>Home</a> <a href='/x'>Navigation link</a></nav>"
        f"<main>{body}</main><footer>Copyright footer</footer>"
        "<script>var tracking = 1;</script></body></html>"
    ).encode()


def make_scanned_pdf(lines: list[str]) -> bytes:
    """An image-only PDF (no text layer): the lines drawn by Pillow on a 200 dpi page."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=44)
    for i, line in enumerate(lines):
        draw.text((150, 200 + 80 * i), line, fill=0, font=font)
    out = io.BytesIO()
    page.save(out, format="PDF", resolution=200)
    return out.getvalue()


def make_table_pdf(before: str, rows: list[list[str]], after: str) -> bytes:
    """A text PDF with a ruled table between two lines (fpdf2)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, before, new_x="LMARGIN", new_y="NEXT")
    with pdf.table() as table:
        for row in rows:
            cells = table.row()
            for value in row:
                cells.cell(value)
    pdf.cell(0, 10, after, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
