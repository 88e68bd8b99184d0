//! `signalbox watch`: the seed's terminal error watch. Prints each new group and each batch
//! of new occurrences as the store sees them, in colour on a terminal, and a summary on Ctrl-C.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use chrono::Utc;
use signalbox::config::Config;
use signalbox::model::{Alert, Fix, FixState, Group, Level};
use signalbox::store::{GroupQuery, GroupSort, Store};

use crate::cli::WatchArgs;

/// What changed since the last look, as lines to print.
pub fn changes(
    known: &mut HashMap<String, i64>,
    groups: &[Group],
    colour: bool,
) -> (Vec<String>, usize, i64) {
    let paint = |code: &str, text: &str| {
        if colour {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    };
    let mut lines = Vec::new();
    let (mut new_groups, mut new_occurrences) = (0, 0);
    for group in groups {
        let service = group.service.as_deref().unwrap_or("-");
        let level = match group.level {
            Level::Critical => paint("1;35", "CRITICAL"),
            _ => paint("1;31", "ERROR"),
        };
        match known.insert(group.fingerprint.clone(), group.occurrences) {
            None => {
                new_groups += 1;
                new_occurrences += group.occurrences;
                lines.push(format!(
                    "{} {level} {service}  {}  [{} {}] ×{}",
                    paint("1;33", "NEW"),
                    group.template,
                    group.category,
                    group.severity,
                    group.occurrences
                ));
            }
            Some(before) if group.occurrences > before => {
                let more = group.occurrences - before;
                new_occurrences += more;
                lines.push(format!(
                    "+{more:<3} {level} {service}  {}  (×{} in all)",
                    group.template, group.occurrences
                ));
            }
            Some(_) => {}
        }
    }
    (lines, new_groups, new_occurrences)
}

/// The groups `watch --auto-fix` asks a fix for: new since the last look (not in `known`
/// before it) and fixable.
pub fn to_fix<'a>(known: &HashMap<String, i64>, groups: &'a [Group]) -> Vec<&'a Group> {
    groups
        .iter()
        .filter(|g| g.fixable && !known.contains_key(&g.fingerprint))
        .collect()
}

/// A line for a fix that has come to an end, or `None` while it is queued or running.
pub fn fix_line(fix: &Fix, colour: bool) -> Option<String> {
    let tag = if colour {
        "\u{1b}[1;32mFIX\u{1b}[0m".to_string()
    } else {
        "FIX".to_string()
    };
    let group: String = fix.fingerprint.chars().take(12).collect();
    let what = match fix.state {
        FixState::Queued | FixState::Running => return None,
        FixState::PrOpen | FixState::Merged | FixState::Closed => format!(
            "{} {}",
            fix.state.as_str(),
            fix.pr_url.as_deref().unwrap_or("(no link)")
        ),
        FixState::Proposed => format!(
            "proposed, not pushed ({})",
            fix.dry_run_reason.as_deref().unwrap_or("dry run")
        ),
        FixState::Refused | FixState::Failed => format!(
            "{}: {}",
            fix.state.as_str(),
            fix.reason.as_deref().unwrap_or("no reason given")
        ),
    };
    Some(format!("{tag} #{}  group {group}  {what}", fix.id))
}

/// The alerts newer than `after` (ids grow), oldest first, as lines to print.
pub fn alert_lines(after: &mut i64, alerts: &[Alert], colour: bool) -> Vec<String> {
    let mut fresh: Vec<&Alert> = alerts.iter().filter(|a| a.id > *after).collect();
    fresh.sort_by_key(|a| a.id);
    if let Some(last) = fresh.last() {
        *after = last.id;
    }
    fresh
        .into_iter()
        .map(|a| {
            let tag = if colour {
                "\u{1b}[1;36mALERT\u{1b}[0m".to_string()
            } else {
                "ALERT".to_string()
            };
            format!(
                "{tag} {}  {}  {}{}",
                a.rule_name,
                a.service.as_deref().unwrap_or("-"),
                a.summary,
                a.fingerprint
                    .as_deref()
                    .map(|fp| format!("  (group {})", fp.chars().take(12).collect::<String>()))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// Watches until Ctrl-C (or SIGTERM), then prints a summary.
pub async fn run(config: &Config, args: WatchArgs) -> Result<(), String> {
    let store = Store::open(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let colour = std::io::stdout().is_terminal();
    let level = if args.log_level == "critical" {
        Some(Level::Critical)
    } else {
        None
    };
    let query = |since| GroupQuery {
        sort: GroupSort::LastSeen,
        service: args.service.clone(),
        level,
        since,
        limit: signalbox::store::MAX_PAGE,
        ..GroupQuery::default()
    };
    // What exists now is the baseline: only what happens from here on is printed.
    let mut known: HashMap<String, i64> = store
        .list_groups(&query(None))
        .await
        .map_err(|e| e.to_string())?
        .items
        .into_iter()
        .map(|g| (g.fingerprint, g.occurrences))
        .collect();
    let mut last_alert = store
        .alerts(None, 1)
        .await
        .map_err(|e| e.to_string())?
        .first()
        .map_or(0, |a| a.id);
    let mut total_alerts = 0usize;
    // Fixes asked for and not yet ended.
    let mut pending_fixes: Vec<i64> = Vec::new();
    if args.auto_fix {
        match signalbox::fixer::off_reason(config) {
            Some(reason) => {
                println!("auto-fix: fixes will be queued, but the fix generator is off ({reason})")
            }
            None => println!(
                "auto-fix: new fixable groups get a fix from the running server's fix generator"
            ),
        }
    }
    println!(
        "watching {} for new errors every {} s (Ctrl-C to stop)",
        signalbox::config::redact_url(&config.database_url),
        args.interval
    );
    let started = Instant::now();
    let (mut total_groups, mut total_occurrences) = (0usize, 0i64);
    let mut last_look = Utc::now() - chrono::Duration::seconds(1);
    let stop = crate::cli::stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_secs(args.interval)) => {}
        }
        let look = Utc::now();
        match store.list_groups(&query(Some(last_look))).await {
            Ok(page) => {
                if args.auto_fix {
                    for group in to_fix(&known, &page.items) {
                        match signalbox::fixer::request_fix(
                            &store,
                            config,
                            &group.fingerprint,
                            "auto",
                            true,
                            look,
                        )
                        .await
                        {
                            Ok(Some((fix, _))) => pending_fixes.push(fix.id),
                            Ok(None) => {}
                            Err(e) => eprintln!("signalbox watch: could not queue a fix ({e})"),
                        }
                    }
                }
                let (lines, groups, occurrences) = changes(&mut known, &page.items, colour);
                for line in lines {
                    println!("{line}");
                }
                let _ = std::io::stdout().flush();
                total_groups += groups;
                total_occurrences += occurrences;
                last_look = look - chrono::Duration::seconds(1);
            }
            Err(e) => eprintln!("signalbox watch: the store did not answer ({e}); trying again"),
        }
        let mut still_pending = Vec::new();
        for id in pending_fixes.drain(..) {
            match store.fix(id).await {
                Ok(Some(fix)) => match fix_line(&fix, colour) {
                    Some(line) => println!("{line}"),
                    None => still_pending.push(id),
                },
                Ok(None) => {}
                Err(_) => still_pending.push(id),
            }
        }
        pending_fixes = still_pending;
        if let Ok(alerts) = store.alerts(None, 200).await {
            let wanted: Vec<Alert> = alerts
                .into_iter()
                .filter(|a| args.service.is_none() || a.service == args.service)
                .collect();
            for line in alert_lines(&mut last_alert, &wanted, colour) {
                total_alerts += 1;
                println!("{line}");
            }
        }
    }
    store.close().await;
    println!(
        "watched {} s: {total_groups} new groups, {total_occurrences} new occurrences, {total_alerts} alerts",
        started.elapsed().as_secs()
    );
    Ok(())
}
