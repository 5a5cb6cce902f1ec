-- Creates a note. argv: name, body (HTML, made by the backend), folder ("" = default folder).
-- A missing folder is created; an existing note of that name is an error.
on run argv
	set {noteName, theBody, folderName} to argv
	tell application "Notes"
		set theAccount to default account
		if folderName is "" then
			set theFolder to default folder of theAccount
		else
			if not (exists folder folderName of theAccount) then make new folder at theAccount with properties {name:folderName}
			set theFolder to folder folderName of theAccount
		end if
		if exists (note noteName of theFolder) then error "A note named \"" & noteName & "\" already exists in " & (name of theFolder) & "; use append_note_content to add to it." number 1006
		make new note at theFolder with properties {name:noteName, body:theBody}
		return "Created the note \"" & noteName & "\" in " & (name of theFolder)
	end tell
end run
