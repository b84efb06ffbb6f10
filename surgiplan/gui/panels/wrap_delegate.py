"""Word-wrapped rows for a one-column tree in a narrow panel (e.g. the implant catalog).

``QTreeView.setWordWrap`` paints wrapped text but sizes every row for one line, so a
long name is cut off; this delegate sizes each row for its text wrapped at the
column's width (less the item's indentation) and re-lays the rows out when the
column is resized.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

PAD_PX = 6  # vertical padding of a row (pixels)


class WrapDelegate(QtWidgets.QStyledItemDelegate):
    """Row heights of ``tree``'s column 0 fitted to its text, wrapped at word breaks."""

    def __init__(self, tree: QtWidgets.QTreeView) -> None:
        super().__init__(tree)
        self.tree = tree
        tree.setWordWrap(True)
        tree.setTextElideMode(QtCore.Qt.TextElideMode.ElideNone)
        tree.setUniformRowHeights(False)
        tree.setItemDelegate(self)
        tree.header().sectionResized.connect(lambda *_: tree.scheduleDelayedItemsLayout())

    def _depth(self, index: QtCore.QModelIndex) -> int:
        d, parent = 0, index.parent()
        while parent.isValid():
            d, parent = d + 1, parent.parent()
        return d

    def sizeHint(self, option, index):  # noqa: N802 - Qt API
        base = super().sizeHint(option, index)
        text = str(index.data() or "")
        style = self.tree.style()
        margin = style.pixelMetric(QtWidgets.QStyle.PixelMetric.PM_FocusFrameHMargin, None, self.tree) + 1
        width = self.tree.columnWidth(index.column()) - self.tree.indentation() * (
            self._depth(index) + (1 if self.tree.rootIsDecorated() else 0)) - 2 * margin
        if width <= 20 or not text:
            return base
        rect = option.fontMetrics.boundingRect(QtCore.QRect(0, 0, width, 10_000),
                                               int(QtCore.Qt.TextFlag.TextWordWrap), text)
        return QtCore.QSize(base.width(), max(base.height(), rect.height() + PAD_PX))
