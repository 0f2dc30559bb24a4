"""Every page of the app, written once: its file, title, sidebar label, icon and one-line description.

The home page's cards, each page's browser title and heading, and the sidebar navigation are all drawn
from PAGES, in teaching order.
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Page:
    path: str  # relative to the app's folder, as st.page_link takes it
    title: str  # the heading and the browser tab's title
    label: str  # the sidebar's entry
    icon: str
    description: str
    figures: bool = False  # it draws Plotly figures (ui/figure.py, ui/stepper.py): setup_page starts loading Plotly.js early

    @property
    def url_path(self) -> str:
        """The page's address below the app's root, as Streamlit names it: "" for the home page, else the
        file's name without its order prefix and extension ("pages/1_Forward_pass.py" -> "Forward_pass")."""
        if not self.path.startswith("pages/"):
            return ""
        return Path(self.path).stem.split("_", 1)[1]


HOME = Page(
    "streamlit_app.py",
    "RNNs for image captioning, explained",
    "Home",
    "🔁",
    "What the app teaches, in what order, with which data and models.",
)
FORWARD_PASS = Page(
    "pages/1_Forward_pass.py",
    "The forward pass, step by step",
    "Forward pass",
    "➡️",
    "How an Elman cell reads a caption: h_t = f(Wx·x_t + Wh·h_t−1 + b) with this example's numbers, "
    "the next-word probabilities, and the loss with <NULL> padding masked; then the LSTM's gates and cell.",
    figures=True,
)
BACKPROP = Page(
    "pages/2_Backprop_through_time.py",
    "Backprop through time",
    "Backprop through time",
    "⬅️",
    "The gradient flowing back through the steps: what each loss sends in, what survives f'(a) and Whᵀ, "
    "why gradients vanish or explode, how dWh sums over time, and how far the LSTM's cell carries it.",
    figures=True,
)
RACE = Page(
    "pages/3_Activation_race.py",
    "Activation race: tanh vs sigmoid",
    "Activation race",
    "🏁",
    "Train tanh and sigmoid (and ReLU or an LSTM) side by side, live, on the same data and see which learns.",
    figures=True,
)
GALLERY = Page(
    "pages/4_Caption_gallery.py",
    "Caption gallery",
    "Caption gallery",
    "🖼️",
    "What the trained vanilla RNN, the LSTM and the overfit model say about training and validation images.",
    figures=True,
)
GRADIENT_CHECK_LAB = Page(
    "pages/5_Gradient_check_lab.py",
    "Gradient-check lab",
    "Gradient-check lab",
    "🔬",
    "Numeric vs analytic gradients for every layer of both cells, and a deliberate bug for the check to catch.",
    figures=True,
)

PAGES = (HOME, FORWARD_PASS, BACKPROP, RACE, GALLERY, GRADIENT_CHECK_LAB)
LESSONS = PAGES[1:]
