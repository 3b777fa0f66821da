"""What the viewer's GUI tests share (run under Xvfb by pytest-xvfb)."""
from __future__ import annotations


def show(window, qtbot, size=(1000, 700)):
    """Show a viewer window at ``size`` px (closed by qtbot after the test) and wait until it has painted."""
    from capture3d.viewer.app import wait_painted

    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    wait_painted(window)
    return window
