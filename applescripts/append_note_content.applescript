-- Adds text to the end of an existing note.
-- argv: name, addition (HTML, made by the backend), folder ("" = all folders).
on run argv
	set {noteName, addedHTML, folderName} to argv
	tell application "Notes"
		if folderName is "" then
			set found to every note whose name is noteName
		else
			if not (exists folder folderName) then error "No folder named \"" & folderName & "\" in Notes." number 1007
			set found to every note of folder folderName whose name is noteName
		end if
		if (count of found) is 0 then error "No note named \"" & noteName & "\"; use create_note to make it." number 1008
		if (count of found) > 1 then error ((count of found) as text) & " notes are named \"" & noteName & "\"; give the folder too." number 1009
		set theNote to item 1 of found
		set body of theNote to (body of theNote) & addedHTML
		return "Added to the note \"" & noteName & "\"; it is now " & ((length of (plaintext of theNote)) as text) & " characters long"
	end tell
end run
