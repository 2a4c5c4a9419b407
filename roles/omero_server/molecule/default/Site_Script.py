# A site script for the scenario: copied into lib/scripts/omero/ by omero_server_extra_scripts.
import omero.scripts as scripts

client = scripts.client("Site_Script.py", "Scenario stand-in for a site script.")
client.closeSession()
