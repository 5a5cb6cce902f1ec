-- Shows a note and prints its plain text. argv: name, folder ("" = all folders), show
-- ("false" during a dry run: look it up without bringing Notes to the front).
on run argv
	set {noteName, folderName} to items 1 thru 2 of argv
	set showIt to true
	if (count of argv) > 2 then set showIt to (item 3 of argv is not "false")
	tell application "Notes"
		if folderName is "" then
			set found to every note whose name is noteName
			if (count of found) is 0 then set found to every note whose name contains noteName
		else
			if not (exists folder folderName) then error "No folder named \"" & folderName & "\" in Notes." number 1007
			set found to every note of folder folderName whose name is noteName
			if (count of found) is 0 then set found to every note of folder folderName whose name contains noteName
		end if
		if (count of found) is 0 then error "No note named \"" & noteName & "\"; use create_note to make it." number 1008
		if (count of found) > 1 then error ((count of found) as text) & " notes match \"" & noteName & "\"; give the full name and the folder." number 1009
		set theNote to item 1 of found
		if showIt then show theNote
		return plaintext of theNote
	end tell
end run
