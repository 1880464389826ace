use std::num::ParseIntError;

#[derive(Debug)]
struct AppError(String);

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ParseIntError> for AppError {
    fn from(e: ParseIntError) -> Self {
        AppError(e.to_string())
    }
}

type AppResult<T> = Result<T, AppError>;

#[tracewire::traced]
fn parse(text: &str) -> Result<u32, AppError> {
    if text.is_empty() {
        return Err(AppError("empty".to_owned()));
    }
    let n: u32 = text.parse()?; // converted with `From`
    Ok(n)
}

#[tracewire::traced(err)]
fn parse_alias(text: &str) -> AppResult<u32> {
    Ok(text.parse::<u32>()?)
}

#[tracewire::traced(err, ret)]
async fn parse_async(text: &str) -> Result<u32, AppError> {
    if text == "early" {
        return Ok(0);
    }
    let n: u32 = text.parse()?;
    Ok(n)
}

#[tracewire::traced(err)]
fn boxed_error() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    "x".parse::<u8>()?;
    Ok(())
}

#[tracewire::traced]
async fn parse_async_plain(text: &str) -> Result<u32, AppError> {
    let n: u32 = text.parse()?;
    Ok(n)
}

fn main() {
    assert_eq!(parse("12").unwrap(), 12);
    assert!(parse("").is_err());
    assert!(parse_alias("x").is_err());
    assert!(boxed_error().is_err());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(parse_async("early")).unwrap(), 0);
    assert!(runtime.block_on(parse_async("nope")).is_err());
    assert_eq!(runtime.block_on(parse_async_plain("4")).unwrap(), 4);
}
