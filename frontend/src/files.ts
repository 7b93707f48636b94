/**
 * Attachments to message file parts. The SDK can convert a FileList itself,
 * but it tells FileList from FileUIPart[] with Array.isArray, which is true for
 * some DOM implementations' FileList (happy-dom); converting here gives the
 * same data: URL parts everywhere.
 */
import type { FileUIPart } from 'ai';

function readAsDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error(`Could not read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

/** Same shape as the SDK's own conversion: `{type: 'file', mediaType, filename, url: data:…}`. */
export async function filesToParts(files: readonly File[]): Promise<FileUIPart[]> {
  return Promise.all(
    files.map(async (file) => ({
      type: 'file' as const,
      mediaType: file.type || 'application/octet-stream',
      filename: file.name,
      url: await readAsDataUrl(file),
    })),
  );
}
