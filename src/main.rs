use std::ffi::OsString;
#[cfg(feature = "gui")]
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    polarmap_core::models::set_shipped_dir(polarmap::assets::models_dir);
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    #[cfg(feature = "gui")]
    if let Some(path) = gui_request(&args) {
        let fallback_to_cli = args.is_empty();
        match polarmap::gui::run(path) {
            Ok(()) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                if !fallback_to_cli {
                    return ExitCode::FAILURE;
                }
                // No display (a terminal over ssh, CI): show the command line's demo instead.
                eprintln!(
                    "showing the command-line demo instead (polarmap --help lists the commands)\n"
                );
            }
        }
    }
    report_panics_with(&args);
    // Every error about user input is an error value naming the file; a panic is a bug (in
    // polarmap or in a decoder it uses). It is reported with the command line, which names the
    // files it was reading, and the command ends with status 70 (EX_SOFTWARE).
    std::panic::catch_unwind(polarmap::cli::main).unwrap_or(ExitCode::from(70))
}

/// Prefixes the panic message with what was running, so the report names the input files.
fn report_panics_with(args: &[OsString]) {
    let command: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let command = command.join(" ");
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        eprintln!(
            "error: internal error while running `polarmap {command}`: this is a bug in polarmap \
             or in a file decoder it uses (please report it with the input files)"
        );
        default_hook(info);
    }));
}

/// `polarmap`, `polarmap gui [PATH]` and `polarmap PATH` open the desktop app; the inner option
/// is the scan to open (None: the demo).
#[cfg(feature = "gui")]
fn gui_request(args: &[OsString]) -> Option<Option<PathBuf>> {
    match args {
        [] => Some(None),
        [first, rest @ ..] if first == "gui" => match rest {
            [] => Some(None),
            [path] => Some(Some(PathBuf::from(path))),
            _ => None,
        },
        [single] => {
            let text = single.to_string_lossy();
            // A subcommand is never a path, even where a file or folder of that name exists.
            let is_command = polarmap::cli::is_command(&text) || text.starts_with('-');
            (!is_command && std::path::Path::new(single).exists())
                .then(|| Some(PathBuf::from(single)))
        }
        _ => None,
    }
}
