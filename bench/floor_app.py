"""The floor of a new tab: a Streamlit page of a heading and one paragraph, with none of the app's elements.

`python -m bench.bench_browser --only floor` opens it as it opens the app's pages in new tabs, served the same
way (serve.run), so that the app's times can be read against what Streamlit itself takes on the same machine.
"""

import streamlit as st

st.title("Floor")
st.markdown("A page of one heading and one paragraph: what a new tab costs before any of the app's elements.")
