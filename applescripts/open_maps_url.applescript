-- Shows a place or directions in Maps. argv: a maps.apple.com URL (built by the backend).
on run argv
	set theURL to item 1 of argv
	tell application "Maps"
		activate
		open location theURL
	end tell
	return theURL
end run
