"""Entry point: ``streamlit run dagster_project/app/main.py`` (``make app``).

Streamlit runs this file as a script, with only its own folder on sys.path; the project root
is added so the app imports this checkout's ``dagster_project``, installed or not.
"""

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import streamlit as st  # noqa: E402

from dagster_project.app import customer_page, overview_page  # noqa: E402
from dagster_project.app.database import APP_DB_ENV, app_database_path  # noqa: E402


def main() -> None:
    st.set_page_config(page_title="Customer 360", layout="wide")
    db_path = app_database_path()
    if not db_path.exists():
        st.error(f"No database at {db_path}. Run the pipeline (`make demo`) or set {APP_DB_ENV}.")
        return
    st.sidebar.caption(f"Reading {db_path} (read-only)")
    pages = [st.Page(lambda: customer_page.render(db_path), title="Customer 360", default=True),
             st.Page(lambda: overview_page.render(db_path), title="Segments and CLV", url_path="segments")]
    st.navigation(pages).run()


main()
