"""A stand-in for Imaris' ImarisLib with exactly the calls the XT extension may use:
ImarisLib().GetApplication(id) → application with FileOpen, FileSave, GetCurrentFileName,
GetDataSet; the dataset with GetSizeX/Y/Z/C/T, GetType, GetChannelName, GetExtendMin/Max X/Y/Z.
Calls are appended as JSON lines to $FAKE_IMARIS_LOG when set, for the tests to check."""

import json
import os

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _record(call, *args):
    path = os.environ.get("FAKE_IMARIS_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps([call, *args]) + "\n")


class _DataSet:
    def GetSizeX(self):
        return 64

    def GetSizeY(self):
        return 48

    def GetSizeZ(self):
        return 5

    def GetSizeC(self):
        return 2

    def GetSizeT(self):
        return 3

    def GetType(self):
        return "eTypeUInt16"

    def GetChannelName(self, index):
        return ["DAPI", "GFP"][index]

    def GetExtendMinX(self):
        return 0.0

    def GetExtendMinY(self):
        return 0.0

    def GetExtendMinZ(self):
        return 0.0

    def GetExtendMaxX(self):
        return 12.8

    def GetExtendMaxY(self):
        return 9.6

    def GetExtendMaxZ(self):
        return 2.5


class _Application:
    def __init__(self):
        self._current = "C:/Data/cells_day1.ims"
        self._dataset = _DataSet()

    def FileOpen(self, path, options):
        with open(path, "rb") as handle:
            if handle.read(8) != HDF5_SIGNATURE:
                raise RuntimeError("Imaris cannot open " + path)
        self._current = path
        _record("FileOpen", path, options)

    def FileSave(self, path, options):
        with open(path, "wb") as handle:
            handle.write(HDF5_SIGNATURE + b"saved by the fake Imaris " * 50)
        _record("FileSave", path, options)

    def GetCurrentFileName(self):
        return self._current

    def GetDataSet(self):
        return self._dataset


class ImarisLib:
    def GetApplication(self, aImarisId):
        return _Application() if aImarisId >= 0 else None
