#
#  OMERO Connector for Imaris: browse OMERO, open images in Imaris as .ims, send the current
#  dataset or a folder to OMERO. Standard library only (Python 3.7+).
#
#    <CustomTools>
#      <Menu>
#        <Item name="OMERO Connector" icon="Python3" tooltip="Move images between OMERO and Imaris">
#          <Command>Python3XT::XTOmeroConnector(%i)</Command>
#        </Item>
#      </Menu>
#    </CustomTools>
#
"""The Tk window. The logic lives in omero_xt_core (tested without Tk); this file only wires
widgets to it and runs the slow calls on a worker thread so the window stays responsive."""

from __future__ import annotations

import os
import queue
import sys
import threading
import tkinter as tk
from tkinter import filedialog, ttk

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import omero_xt_core as core


class ConnectorWindow:
    def __init__(self, root: tk.Tk, application, settings_dir: str = core.SETTINGS_DIR) -> None:
        self.root, self.application, self.settings_dir = root, application, settings_dir
        self.client: core.WebClient | None = None
        self.events: queue.Queue = queue.Queue()
        self.busy = False
        self.log_path = core.setup_logging()
        saved = core.load_settings(settings_dir)
        root.title("OMERO Connector")
        self.host = tk.StringVar(value=saved["host"])
        self.port = tk.StringVar(value=str(saved["port"]))
        self.https = tk.BooleanVar(value=bool(saved["https"]))
        self.username = tk.StringVar(value=saved["username"])
        self.password = tk.StringVar()
        self.download_dir = saved["download_dir"] or core.default_download_dir()
        self.status = tk.StringVar(value="Not connected. Log: " + self.log_path)
        self._build()
        root.after(100, self._drain)

    # layout

    def _build(self) -> None:
        form = ttk.Frame(self.root, padding=6)
        form.pack(fill="x")
        for column, (label, var, width, secret) in enumerate((
                ("Server", self.host, 24, False), ("Port", self.port, 6, False),
                ("Username", self.username, 12, False), ("Password", self.password, 12, True))):
            ttk.Label(form, text=label).grid(row=0, column=2 * column, sticky="w")
            entry = ttk.Entry(form, textvariable=var, width=width, show="*" if secret else "")
            entry.grid(row=0, column=2 * column + 1, padx=(2, 8))
            setattr(self, f"{label.lower()}_entry", entry)
        ttk.Checkbutton(form, text="HTTPS", variable=self.https).grid(row=0, column=8)
        self.connect_button = ttk.Button(form, text="Connect", command=self.connect)
        self.connect_button.grid(row=0, column=9, padx=4)

        lists = ttk.Frame(self.root, padding=6)
        lists.pack(fill="both", expand=True)
        self.projects = self._list(lists, "Projects", 0, self._project_selected)
        self.datasets = self._list(lists, "Datasets", 1, self._dataset_selected)
        self.images = self._list(lists, "Images", 2, None)
        for column in range(3):
            lists.columnconfigure(column, weight=1)
        lists.rowconfigure(1, weight=1)

        buttons = ttk.Frame(self.root, padding=6)
        buttons.pack(fill="x")
        self.load_button = ttk.Button(buttons, text="Load into Imaris", command=self.load_image)
        self.send_button = ttk.Button(buttons, text="Send current dataset to OMERO",
                                      command=self.send_current)
        self.folder_button = ttk.Button(buttons, text="Send folder to OMERO…",
                                        command=self.send_folder)
        self.close_button = ttk.Button(buttons, text="Close", command=self.close)
        for button in (self.load_button, self.send_button, self.folder_button):
            button.pack(side="left", padx=2)
        self.close_button.pack(side="right")
        ttk.Label(self.root, textvariable=self.status, relief="sunken", anchor="w",
                  padding=3).pack(fill="x", side="bottom")
        self.items = {"projects": [], "datasets": [], "images": []}

    def _list(self, parent, title, column, on_select):
        ttk.Label(parent, text=title).grid(row=0, column=column, sticky="w")
        box = tk.Listbox(parent, exportselection=False, width=32, height=14)
        box.grid(row=1, column=column, sticky="nsew", padx=2)
        if on_select:
            box.bind("<<ListboxSelect>>", lambda _event: on_select())
        return box

    # background work: one call at a time; results come back through the queue

    def _run(self, describe: str, work, done=lambda result: None) -> None:
        if self.busy:
            self.status.set("Busy: wait for the current step to finish")
            return
        self.busy = True
        self.status.set(describe + "…")

        def body():
            try:
                self.events.put(("done", done, work()))
            except Exception as exc:  # shown to the user; details in the log
                core.log.exception("%s failed", describe)
                self.events.put(("error", None, f"{describe}: {exc}"))

        threading.Thread(target=body, daemon=True).start()

    def _progress(self, text: str) -> None:
        self.events.put(("status", None, text))

    def _drain(self) -> None:
        try:
            while True:
                kind, callback, value = self.events.get_nowait()
                if kind == "status":
                    self.status.set(value)
                    continue
                self.busy = False
                if kind == "error":
                    self.status.set(value)
                else:
                    callback(value)
        except queue.Empty:
            pass
        self.root.after(100, self._drain)

    # actions

    def _save_settings(self) -> None:
        core.save_settings({"host": self.host.get(), "port": int(self.port.get() or 0),
                            "https": self.https.get(), "username": self.username.get(),
                            "download_dir": self.download_dir}, self.settings_dir)

    def connect(self) -> None:
        try:
            base = core.base_url(self.host.get(), int(self.port.get()), self.https.get())
        except (ValueError, core.ConnectorError) as exc:
            self.status.set(f"Cannot connect: {exc}")
            return
        client = core.WebClient(base)
        username, password = self.username.get(), self.password.get()

        def work():
            client.login(username, password)
            return client.projects()

        def done(projects):
            self.client = client
            self._save_settings()
            self._fill("projects", self.projects, projects)
            self._fill("datasets", self.datasets, [])
            self._fill("images", self.images, [])
            self.status.set(f"Connected to {base} as {username}")

        self._run("Connecting", work, done)

    def _fill(self, key, box, items) -> None:
        self.items[key] = items
        box.delete(0, "end")
        for item in items:
            extra = "  ({})".format(item["size"]) if item.get("size") else ""
            box.insert("end", "{}{}".format(item["name"], extra))

    def _selected(self, key, box):
        selection = box.curselection()
        return self.items[key][selection[0]] if selection else None

    def _project_selected(self) -> None:
        project = self._selected("projects", self.projects)
        if project and self.client:
            self._run("Loading datasets", lambda: self.client.datasets(project["id"]),
                      lambda items: (self._fill("datasets", self.datasets, items),
                                     self._fill("images", self.images, []),
                                     self.status.set(f"{len(items)} datasets")))

    def _dataset_selected(self) -> None:
        dataset = self._selected("datasets", self.datasets)
        if dataset and self.client:
            self._run("Loading images", lambda: self.client.images(dataset["id"]),
                      lambda items: (self._fill("images", self.images, items),
                                     self.status.set(f"{len(items)} images")))

    def load_image(self) -> None:
        image = self._selected("images", self.images)
        if not (image and self.client):
            self.status.set("Select an image first")
            return

        def work():
            path = core.export_to_file(self.client, image["id"], self.download_dir,
                                       on_status=self._progress)
            core.open_in_imaris(self.application, path)
            return path

        self._run("Exporting {}".format(image["name"]), work,
                  lambda path: self.status.set(f"Opened in Imaris: {path}"))

    def _upload(self, describe, collect) -> None:
        project = self._selected("projects", self.projects)
        dataset = self._selected("datasets", self.datasets)
        if not self.client:
            self.status.set("Connect first")
            return

        def work():
            files, name = collect()
            api = core.UploadApi(self.client)
            target = dataset["name"] if dataset else name
            return api.send_files(files, target, project["id"] if project else None,
                                  on_status=self._progress)

        self._run(describe, work, lambda status: self.status.set(
            f"Imported into OMERO: {len(core.imported_image_ids(status))} image(s)"))

    def send_current(self) -> None:
        def collect():
            path = core.save_current_dataset(self.application)
            name = os.path.splitext(os.path.basename(path))[0]
            return [(path, os.path.basename(path))], name

        self._upload("Sending the current dataset", collect)

    def send_folder(self, folder: str | None = None) -> None:
        folder = folder or filedialog.askdirectory(title="Folder to send to OMERO")
        if not folder:
            return
        self._upload(f"Sending folder {folder}",
                     lambda: (core.folder_files(folder), os.path.basename(folder.rstrip("/"))))

    def close(self) -> None:
        self.root.destroy()


def XTOmeroConnector(aImarisId):
    application = core.imaris_application(aImarisId)
    root = tk.Tk()
    ConnectorWindow(root, application)
    root.mainloop()


if __name__ == "__main__":
    XTOmeroConnector(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
